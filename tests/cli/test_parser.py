"""The CLI's parser names each sub-command's handler as "module:function" (imported when the command
runs): every name must resolve, or the command would fail only when someone runs it."""

from __future__ import annotations

import argparse

from pipeline.cli import build_parser, handler_of


def handlers(parser: argparse.ArgumentParser) -> dict[str, str]:
    """Sub-command path ('lake verify') -> its handler reference, for every leaf of the parser."""
    found = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                reference = sub.get_default("handler")
                if reference:
                    found[name] = reference
                found |= {f"{name} {k}": v for k, v in handlers(sub).items()}
    return found


def test_every_sub_command_names_a_handler_that_exists():
    found = handlers(build_parser())
    assert {"run", "demo-data", "ingest", "features", "train", "models", "evaluate", "predict", "map", "tables",
            "sql", "lake attach-sql", "lake verify", "lake repair", "lake maintain", "serve"} == set(found)
    for command, reference in found.items():
        assert reference.startswith("pipeline.cli."), command
        assert callable(handler_of(reference)), f"{command}: {reference}"


def test_lake_without_its_sub_command_is_a_usage_error(capsys):
    # it printed the top-level help and exited 0, as if `accidents lake` had done something
    from pipeline.cli import main

    assert main(["lake"]) == 2
    assert "accidents lake: the following arguments are required: COMMAND" in capsys.readouterr().err
