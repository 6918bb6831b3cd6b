"""The object-store layer shared by the copilot (inputs and outputs) and the SDK (reading outputs)."""

from containertask.storage.store import Limits, NotFoundError, Opener, Storage, StorageError
from containertask.storage.uri import Location, join

__all__ = ["Limits", "Location", "NotFoundError", "Opener", "Storage", "StorageError", "join"]
