"""autoalign: an automated alignment lab.

Nothing here downloads at run time: models and tokenizers are built here or loaded from local
folders, so the Hugging Face hub is switched to offline mode unless the user says otherwise.
"""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

__version__ = "0.1.0"
