"""Every record kind Xuefen knows. Importing this module fills the registry in
``backend.services.activity``; add a domain's kinds here when it gets some."""

from backend.services import profile_settings, progress

__all__ = ["profile_settings", "progress"]
