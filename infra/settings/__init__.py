"""The typed `kiva:` stack configuration (pydantic v2), validated before any resource exists."""

from infra.settings.cluster import AzureCluster, ExistingCluster, GpuPool
from infra.settings.loader import ConfigError, load_settings
from infra.settings.stack import StackSettings
from infra.settings.workloads import ExternalProvider, Model

__all__ = [
    "AzureCluster",
    "ConfigError",
    "ExistingCluster",
    "ExternalProvider",
    "GpuPool",
    "Model",
    "StackSettings",
    "load_settings",
]
