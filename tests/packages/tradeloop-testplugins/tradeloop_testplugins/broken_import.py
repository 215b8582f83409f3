"""Fails at import time, as a plugin with a missing dependency does."""

import not_an_installed_module  # noqa: F401


class Plugin:
    pass
