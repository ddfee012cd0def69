"""In-tree PEP 517 backend: setuptools, after compiling cshim/ into the
package (see build.py). Kept this thin on purpose."""
import sys
from pathlib import Path

from setuptools import build_meta as _setuptools
from setuptools.build_meta import *  # noqa: F401,F403  (re-export the hooks we don't wrap)

sys.path.insert(0, str(Path(__file__).resolve().parent))
import build as _cshim  # noqa: E402


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    _cshim.build()
    return _setuptools.build_wheel(wheel_directory, config_settings, metadata_directory)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    _cshim.build()
    return _setuptools.build_editable(wheel_directory, config_settings, metadata_directory)
