"""The skip mark of the tests that run method files in the jail: bubblewrap present and the jail's
Python able to load this environment's packages; otherwise the reason, in one line."""

import pytest

from autoalign.errors import UserError
from autoalign.research.boundary import jail as jail_module
from autoalign.runtime import sandbox as sandbox_module


def jail_problem() -> str:
    try:
        sandbox_module.require_bwrap()
        jail_module.jail_python()
        return ""
    except UserError as e:
        return str(e)


needs_bwrap = pytest.mark.skipif(bool(jail_problem()), reason=jail_problem())
