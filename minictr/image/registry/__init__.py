"""The registry client: the first step of the image path, from a reference
on a registry host to manifests and blob streams (and back, for push).

  config.py       mirrors, fallback, insecure hosts → the endpoints to try
  challenge.py    WWW-Authenticate parsing
  transport.py    HTTP: the auth dance, token cache, retries, TLS/plain HTTP
  credentials.py  login/logout storage (docker's auth.json format)
  client.py       the Distribution API: manifests, blobs, tags
  upload.py       pushing blobs: mount, monolithic, chunked

Nothing outside transport.py sees authentication. `requests` is imported only
when the first request is made."""
from minictr.image.registry.client import RegistryClient, verified_blob_reader
from minictr.image.registry.config import Endpoint, RegistryConfig, RegistryConfigError
from minictr.image.registry.credentials import CredentialStore, login, logout

__all__ = ["RegistryClient", "verified_blob_reader", "Endpoint", "RegistryConfig", "RegistryConfigError",
           "CredentialStore", "login", "logout"]
