"""Checks of the singer-sdk private members the kit's plugins rely on, run by each plugin's own
environment (tests/unit/test_sdk_adapters.py runs them and reports each check)."""
