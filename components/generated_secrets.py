"""Secrets the platform generates itself: the LiteLLM master and salt keys, the database password and,
where the gateway has a Redis, its password."""

from __future__ import annotations

import pulumi
import pulumi_random as random

from components.contracts import SecretName


class GeneratedSecrets(pulumi.ComponentResource):
    """Random, stable secret values, each exposed as a Pulumi secret.

    The salt key encrypts provider credentials in the gateway database and must never change once
    set, so it is protected against deletion and replacement.
    """

    values: dict[str, pulumi.Output[str]]

    def __init__(
        self, name: str, opts: pulumi.ResourceOptions | None = None, *, redis_password: bool = False
    ) -> None:
        super().__init__("kiva:secrets:GeneratedSecrets", name, None, opts)
        child_opts = pulumi.ResourceOptions(parent=self)
        master = random.RandomPassword(f"{name}-master-key", length=48, special=False, opts=child_opts)
        salt = random.RandomPassword(
            f"{name}-salt-key",
            length=48,
            special=False,
            opts=pulumi.ResourceOptions.merge(child_opts, pulumi.ResourceOptions(protect=True)),
        )
        database = random.RandomPassword(
            f"{name}-database-password", length=32, special=False, opts=child_opts
        )
        # The SDK marks `result` secret through additional_secret_outputs, which the mock engine does not
        # apply: wrapping explicitly keeps the values secret in both worlds.
        self.values = {
            SecretName.MASTER_KEY: pulumi.Output.secret(master.result.apply(lambda key: f"sk-{key}")),
            SecretName.SALT_KEY: pulumi.Output.secret(salt.result),
            SecretName.DATABASE_PASSWORD: pulumi.Output.secret(database.result),
        }
        if redis_password:
            # Only where the stack runs Redis (`secrets_table.Need.GATEWAY_REDIS`); letters and digits, so
            # that it needs no quoting in `requirepass` or in a redis:// URL.
            redis = random.RandomPassword(f"{name}-redis-password", length=32, special=False, opts=child_opts)
            self.values[SecretName.REDIS_PASSWORD] = pulumi.Output.secret(redis.result)
        self.register_outputs({})
