"""What the command lines of the baselines share."""

from __future__ import annotations

import argparse
import json


def json_dict(text: str) -> dict:
    """Parse a JSON object given on the command line (an argparse ``type``)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"not valid JSON ({error}): {text!r}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object such as '{{\"key\": 1}}', got {text!r}")
    return value
