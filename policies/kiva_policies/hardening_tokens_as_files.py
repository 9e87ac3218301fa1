"""kiva-hardening-tokens-as-files: tokens are mounted as files where the software reads them from a file.

An environment variable leaks into crash dumps, `/proc/<pid>/environ` and child processes; a Secret
mounted as a file does not (checkov CKV_K8S_35). The policy knows, per env name, the variable that names
a file instead: Hugging Face Hub reads its token from the file `HF_TOKEN_PATH` names
(huggingface_hub `constants.HF_TOKEN_PATH`, read by `utils/_auth.py::_get_token_from_file`), so
`HF_TOKEN` from a Secret is a finding. Env vars whose software has no file alternative (LiteLLM's
`os.environ/…` keys) are left to `kiva-secrets-table-by-reference`.
"""

from __future__ import annotations

from pulumi_policy import ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from kiva_policies.base import MANDATORY, containers, display_name, env_values, pod_spec

#: Env var holding a token → the env var the same software reads a token file path from.
FILE_ALTERNATIVES = {"HF_TOKEN": "HF_TOKEN_PATH", "HUGGING_FACE_HUB_TOKEN": "HF_TOKEN_PATH"}


def _check(args: ResourceValidationArgs, report: ReportViolation) -> None:
    spec = pod_spec(args.resource_type, args.props)
    if spec is None:
        return
    workload = display_name(args.props, args.name)
    for ref in containers(spec):
        for name in env_values(ref.container):
            if name in FILE_ALTERNATIVES:
                report(
                    f"Container '{ref.name}' of {workload} gets its token in the env var `{name}`; mount the "
                    f"Secret as a file and point `{FILE_ALTERNATIVES[name]}` at it.",
                    None,
                )


tokens_as_files = ResourceValidationPolicy(
    name="kiva-hardening-tokens-as-files",
    description=(
        "No container receives a token in an environment variable when its software can read the token "
        "from a mounted file, such as Hugging Face's HF_TOKEN_PATH."
    ),
    validate=_check,
    enforcement_level=MANDATORY,
)

POLICIES = [tokens_as_files]
