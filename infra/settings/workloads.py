"""What runs on the cluster: model servers, the gateway, the database and its backups, external providers."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, HttpUrl, model_validator

from infra.settings.base import DnsLabel, KivaModel, Quantity

SecretKeyName = Annotated[str, Field(pattern=r"^[a-zA-Z][a-zA-Z0-9]{2,62}$")]
"""The name of a secure config value in the `kiva:` namespace (set with `pulumi config set --secret`)."""


class ResourceAmounts(KivaModel):
    cpu: Quantity
    memory: Quantity


class Resources(KivaModel):
    """Container requests and limits."""

    requests: ResourceAmounts
    limits: ResourceAmounts


class ModelCache(KivaModel):
    """Where model weights are cached: a PVC survives restarts (RWO, so rollouts use `Recreate`)."""

    type: Literal["pvc", "emptyDir"] = "pvc"
    size: Quantity = "100Gi"
    storage_class: str | None = None


class Model(KivaModel):
    """A model served by vLLM and published through the gateway under `servedName`."""

    name: DnsLabel
    hugging_face_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")]
    served_name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][\w.:-]{0,127}$")]
    parameters_billion: float = Field(gt=0, le=1000)
    """Parameter count, for the GPU-memory sizing check."""
    pool: str | None = None
    """The GPU pool to run on; omit together with `cpu: true` for CPU-only inference."""
    cpu: bool = False
    gpus: int = Field(1, ge=1, le=8)
    replicas: int = Field(1, ge=1, le=20)
    max_model_len: int = Field(8192, ge=256, le=1_048_576)
    gpu_memory_utilization: float = Field(0.9, ge=0.5, le=0.95)
    dtype: Literal["auto", "half", "float16", "bfloat16"] = "auto"
    gated: bool = False
    """Gated on Hugging Face: the token `kiva:huggingFaceToken` is mounted."""
    cache: ModelCache = ModelCache()
    resources: Resources | None = None
    extra_args: list[str] = Field(default_factory=list)
    offline: bool = False
    """Weights are pre-staged in the cache: no Hugging Face download (`HF_HUB_OFFLINE=1`) and no egress."""

    @model_validator(mode="after")
    def _placement(self) -> Model:
        if self.cpu and self.pool is not None:
            raise ValueError("a CPU model (cpu: true) must not name a GPU pool")
        if not self.cpu and self.pool is None:
            raise ValueError("name the GPU pool the model runs on (pool), or set cpu: true")
        if self.cpu and "gpus" in self.model_fields_set:
            raise ValueError("a CPU model (cpu: true) takes no gpus")
        if self.offline and self.cache.type != "pvc":
            raise ValueError(
                "an offline model (offline: true) needs its weights on a persistent cache (cache.type: pvc)"
            )
        return self


class Ingress(KivaModel):
    """Publishes the gateway through an ingress controller with TLS from cert-manager."""

    class_name: str = "nginx"
    host: Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")]
    cluster_issuer: str
    controller_namespace: DnsLabel = "ingress-nginx"


class Gateway(KivaModel):
    """The LiteLLM gateway: the platform's OpenAI-compatible endpoint."""

    min_replicas: int = Field(1, ge=1, le=50)
    max_replicas: int = Field(3, ge=1, le=100)
    resources: Resources = Resources(
        requests=ResourceAmounts(cpu="1", memory="2Gi"), limits=ResourceAmounts(cpu="2", memory="4Gi")
    )
    database_connection_pool_limit: int = Field(10, ge=1, le=100)
    """Connections per worker (`general_settings.database_connection_pool_limit`)."""
    ingress: Ingress | None = None
    allowed_namespaces: list[DnsLabel] = Field(default_factory=list)
    """Namespaces whose pods may call the gateway directly (besides the ingress controller)."""

    @model_validator(mode="after")
    def _min_le_max(self) -> Gateway:
        if self.min_replicas > self.max_replicas:
            raise ValueError(
                f"minReplicas ({self.min_replicas}) must not exceed maxReplicas ({self.max_replicas})"
            )
        return self


class Storage(KivaModel):
    size: Quantity = "20Gi"
    storage_class: str | None = None
    """Defaults to the cluster's storage class."""


class Pooler(KivaModel):
    """A CloudNativePG PgBouncer pooler in front of the primary."""

    enabled: bool = False
    instances: int = Field(2, ge=1, le=10)


class Database(KivaModel):
    """The gateway's PostgreSQL, run by CloudNativePG."""

    instances: int = Field(1, ge=1, le=9)
    postgres_major: Literal[16, 17] = 17
    storage: Storage = Storage()
    wal_storage: Storage | None = None
    resources: Resources = Resources(
        requests=ResourceAmounts(cpu="500m", memory="1Gi"), limits=ResourceAmounts(cpu="2", memory="2Gi")
    )
    pooler: Pooler = Pooler()


class S3ObjectStore(KivaModel):
    """S3-compatible object storage for backups on `existing` clusters (IONOS, STACKIT, OTC OBS, MinIO).

    Credentials are the secure config values `kiva:backupAccessKeyId` and `kiva:backupSecretAccessKey`.
    """

    endpoint: HttpUrl
    bucket: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")]
    region: str
    path: str = "kiva"


class Backups(KivaModel):
    """Database backups through the Barman Cloud plugin; retention is `kiva:retention.backupDays`."""

    schedule: Annotated[str, Field(pattern=r"^(\S+\s+){5}\S+$")] = "0 0 2 * * *"
    """Six-field cron (with seconds), as CloudNativePG's ScheduledBackup expects."""
    object_store: S3ObjectStore | None = None
    """Required on `existing` clusters; Azure stacks back up to their own storage account."""


class ProviderModel(KivaModel):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][\w.:-]{0,127}$")]
    """The name clients use (`model` in the OpenAI API)."""
    model: Annotated[str, Field(pattern=r"^[a-z_]+/[\w.:@/-]+$")]
    """The LiteLLM model string, e.g. `azure/gpt-4o` or `mistral/mistral-large-latest`."""


class ExternalProvider(KivaModel):
    """An external LLM provider reached through the gateway. Its API key is a secure config value."""

    name: DnsLabel
    kind: Literal["openai", "azure", "anthropic", "vertex_ai", "bedrock", "mistral"]
    api_key_secret: SecretKeyName
    api_base: HttpUrl | None = None
    processing_jurisdiction: Annotated[str, Field(pattern=r"^[A-Z]{2}$|^EU$")]
    """Where the provider processes requests (`EU` or an ISO country code): checked by the policy pack."""
    models: list[ProviderModel] = Field(min_length=1)


class Monitoring(KivaModel):
    """Prometheus Operator integration (PodMonitors); needs its CRDs on the cluster."""

    enabled: bool = False
