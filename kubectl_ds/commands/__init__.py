"""Thin commands: flags -> frozen Options -> validate() -> run(options, collaborators). Only this
package and cli.py import click."""
