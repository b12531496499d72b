"""Python client for the Fairlabel API: `Client` for the requester's flow, the errors it raises."""

from fairlabel_client.client import Client, Pool, settings_from_environment
from fairlabel_client.errors import FairlabelError, ImportFailed, RateLimited

__all__ = ["Client", "FairlabelError", "ImportFailed", "Pool", "RateLimited", "settings_from_environment"]
