"""The error of the image documents (manifests, indexes, configs), in a
module of its own: a container start parses its image config and needs
this class, not the manifest parser."""
from __future__ import annotations


class InvalidManifest(ValueError):
    """The document is not a valid manifest/index/config; says where."""
