"""The project's own DLP accuracy corpus, generated from the published formats.

For every predefined entry: true samples built from the vendor's / issuer's documented format
(prefix, alphabet, length, check digits computed here, independently of
``detectors.dlp.checks``) in a realistic line, and negatives: the same shape too short, a
placeholder body, a wrong check digit, or (for entries that need context) the bare value with
no keyword near it. Nothing here is copied from another project's test data.

``build_corpus(seed)`` -> ``{entry_id: Cases}``; ``bench/dlp_accuracy.py`` scores it and
``tests/unit/dlp/test_catalog.py`` asserts every entry on it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
import string
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

ALPHABETS = {
    "n": string.ascii_letters + string.digits,
    "u": string.ascii_letters + string.digits + "_-",
    "b": string.ascii_letters + string.digits + "+/",
    "x": "0123456789abcdef",
    "X": "0123456789ABCDEF",
    "d": string.digits,
    "a": string.ascii_lowercase,
    "A": string.ascii_uppercase,
    "l": string.ascii_letters,
    "L": string.ascii_lowercase + string.digits,
    "U": string.ascii_uppercase + string.digits,
    "z": "abcdefghijklmnopqrstuvwxyz234567",
}
_SLOT = re.compile(r"\{([a-zA-Z])(\d+)\}|\{(uuid|UUID)\}")


@dataclass
class Cases:
    positives: list[tuple[str, str]] = field(default_factory=list)  # (text, value)
    negatives: list[str] = field(default_factory=list)


class Rand:
    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)

    def tok(self, cls: str, n: int) -> str:
        alphabet = ALPHABETS[cls]
        out = [self.r.choice(alphabet) for _ in range(n)]
        if cls in "nulb" and n >= 6:  # keep a generated body mixed (upper, lower, digit)
            out[0] = self.r.choice(string.ascii_uppercase)
            out[1] = self.r.choice(string.ascii_lowercase)
            if cls != "l":
                out[2] = self.r.choice(string.digits)
            self.r.shuffle(out)
        if cls in "xXL" and n >= 6:
            out[0] = self.r.choice("abcdef" if cls != "X" else "ABCDEF")
            out[1] = self.r.choice(string.digits)
            self.r.shuffle(out)
        return "".join(out)

    def uuid(self) -> str:
        h = self.tok("x", 32)
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"

    def render(self, template: str, shrink: bool = False, fill: str = "") -> str:
        """Fill ``{cls N}`` slots; ``shrink`` halves the longest slot (too short for the
        format); ``fill`` repeats one character instead of random ones (a placeholder)."""
        slots = list(_SLOT.finditer(template))
        longest = max(range(len(slots)), key=lambda i: int(slots[i].group(2) or 36), default=-1)
        out, last = [], 0
        for i, m in enumerate(slots):
            out.append(template[last : m.start()])
            last = m.end()
            if m.group(3):
                value = self.uuid() if m.group(3) == "uuid" else self.uuid().upper()
                if fill:
                    value = re.sub(r"[0-9a-fA-F]", "0", value)
            else:
                cls, n = m.group(1), int(m.group(2))
                if shrink and i == longest:
                    n = max(1, n // 2)
                if fill:
                    ch = fill if fill in ALPHABETS[cls] else ALPHABETS[cls][0]
                    value = ch * n
                else:
                    value = self.tok(cls, n)
            if shrink and i == longest and m.group(3):
                value = value[:18]
            out.append(value)
        out.append(template[last:])
        return "".join(out)


# --------------------------------------------------------------------------------------------
# Credential formats: entry id -> (line template with {v}, value template[, options])
# Options: ``ctx`` the entry needs a keyword (the bare value is a negative); ``neg`` extra
# negatives; ``auto`` False: no automatic short/placeholder negatives; ``derive`` turns the
# template's rendering into the positive (a structure the template cannot spell).
# --------------------------------------------------------------------------------------------

_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def crc_token(r: Rand, prefix: str) -> str:
    body = r.tok("n", 30)
    n, check = zlib.crc32(body.encode()), ""
    while n:
        n, d = divmod(n, 62)
        check = _B62[d] + check
    return prefix + body + check.rjust(6, "0")


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def macaroon(r: Rand, location: str) -> str:
    ident = json.dumps({"version": 1, "permissions": "user"}).encode()
    raw = bytes([2, 1, len(location)]) + location.encode() + bytes([2, len(ident)]) + ident
    raw += b"\x00\x00\x06\x20" + bytes(r.r.getrandbits(8) for _ in range(32))
    return "pypi-" + _b64url(raw)


def jwt_token(r: Rand, alg: str = "HS256", payload: dict[str, object] | None = None) -> str:
    header = _b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    body = _b64url(json.dumps(payload or {"sub": r.tok("d", 8), "iat": 1_700_000_000}).encode())
    if alg == "none":
        return f"{header}.{body}."
    return f"{header}.{body}.{r.tok('u', 43)}"


Special = Callable[[Rand], str]
CRED: dict[str, tuple[str, str | Special, dict[str, object]]] = {}


def cred(eid: str, line: str, value: str | Special, **opts: object) -> None:
    CRED[eid] = (line, value, opts)


def _ctx_neg(value: str | Special) -> dict[str, object]:
    return {"ctx": True}


# AI platforms
cred(
    "openai_api_key",
    "OPENAI_API_KEY={v}\n",
    "sk-proj-{u74}T3BlbkFJ{u74}",
    auto=False,
    neg=[
        "OPENAI_API_KEY=sk-proj-{u20}\n",
        "OPENAI_API_KEY=sk-proj-your-api-key-here-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
    ],
)
cred("anthropic_api_key", "ANTHROPIC_API_KEY={v}\n", "sk-ant-api03-{u93}AA")
cred("huggingface_token", "HF_TOKEN={v}\n", "hf_{l34}")
cred("huggingface_org_token", "HF_ORG_TOKEN={v}\n", "api_org_{l34}")
cred("groq_api_key", "GROQ_API_KEY={v}\n", "gsk_{n52}")
cred("perplexity_api_key", "PPLX_API_KEY={v}\n", "pplx-{n48}")
cred("xai_api_key", "XAI_API_KEY={v}\n", "xai-{n80}")
cred("replicate_api_token", "REPLICATE_API_TOKEN={v}\n", "r8_{n37}")
cred("together_api_key", "TOGETHER_API_KEY={v}\n", "tgp_v1_{u43}")
cred("openrouter_api_key", "OPENROUTER_API_KEY={v}\n", "sk-or-v1-{x64}")
cred("langsmith_api_key", "LANGSMITH_API_KEY={v}\n", "lsv2_pt_{x32}_{x10}")
cred("langfuse_secret_key", "LANGFUSE_SECRET_KEY={v}\n", "sk-lf-{uuid}")
cred("pinecone_api_key", "PINECONE_API_KEY={v}\n", "pcsk_{n6}_{n64}")
cred("fireworks_api_key", "FIREWORKS_API_KEY={v}\n", "fw_{n24}")
cred("cerebras_api_key", "CEREBRAS_API_KEY={v}\n", "csk-{L48}")
cred("nvidia_api_key", "NVIDIA_API_KEY={v}\n", "nvapi-{u64}")
cred("elevenlabs_api_key", "ELEVENLABS_API_KEY={v}\n", "sk_{x48}")
cred("aws_bedrock_api_key", "AWS_BEARER_TOKEN_BEDROCK={v}\n", "ABSKQmVkcm9ja0FQSUtleS{b110}")
cred(
    "aws_bedrock_short_term_key",
    "AWS_BEARER_TOKEN_BEDROCK={v}\n",
    "bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29t{b110}",
)
cred("deepseek_api_key", "DEEPSEEK_API_KEY={v}\n", "sk-{x32}", ctx=True)
cred("cohere_api_key", "COHERE_API_KEY={v}\n", "{n40}", ctx=True)
cred("mistral_api_key", "MISTRAL_API_KEY={v}\n", "{n32}", ctx=True)
cred("azure_openai_key", "AZURE_OPENAI_API_KEY={v}\n", "{x32}", ctx=True)
cred("assemblyai_api_key", "ASSEMBLYAI_API_KEY={v}\n", "{x32}", ctx=True)
cred("wandb_api_key", "WANDB_API_KEY={v}\n", "{x40}", ctx=True)
# AWS
cred(
    "aws_access_key_id",
    "aws_access_key_id = {v}\n",
    "AKIA{U16}",
    neg=["aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"],
)
cred(
    "aws_secret_access_key",
    'aws_secret_access_key = "{v}"\n',
    "{b40}",
    auto=False,
    neg=[
        'aws_secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"\n',
        "unlabelled {b40} blob\n",
        'aws_secret_access_key = "{b20}"\n',
    ],
)
cred("aws_session_token", "aws_session_token = {v}\n", "IQoJb3JpZ2luX2Vj{b180}")
cred("aws_mws_key", "MWS_AUTH_TOKEN={v}\n", "amzn.mws.{uuid}")
cred("aws_appsync_key", "x-api-key: {v}\n", "da2-{L26}")
# Google
cred("gcp_api_key", 'key: "{v}"\n', "AIza{u35}")
cred(
    "gcp_service_account_key",
    '{{"type": "service_account", "private_key_id": "{v}"}}\n',
    "{x40}",
    auto=False,
    neg=['{"type": "service_account", "private_key_id": "' + "0" * 40 + '"}\n'],
)
cred("google_oauth_token", "Authorization: Bearer {v}\n", "ya29.{u55}")
cred("google_oauth_client_secret", '"client_secret": "{v}"\n', "GOCSPX-{u28}")
cred("google_oauth_refresh_token", '"refresh_token": "{v}"\n', "1//0{u70}")
cred("firebase_fcm_server_key", "FCM_SERVER_KEY={v}\n", "AAAA{u7}:APA91b{u134}")
# Microsoft
cred(
    "azure_client_secret",
    "AUTH_CLIENTSECRET={v}\n",
    ".{n2}8Q~{u34}",
    neg=["AZURE_CLIENT_SECRET=abc8Q~short\n"],
)
cred(
    "azure_storage_account_key",
    "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={v};\n",
    "{b86}==",
    auto=False,
    neg=["DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=" + "A" * 86 + "==;\n"],
)
cred(
    "azure_sas_token",
    "https://acct.blob.core.windows.net/c/f?sv=2024-05-04&se=2026-01-01&sp=r&{v}\n",
    "sig={b43}%3D",
    ctx=True,
)
cred(
    "azure_service_bus_key",
    "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=root;SharedAccessKey={v}\n",
    "{b43}=",
    auto=False,
    neg=["SharedAccessKey=" + "A" * 43 + "=\n"],
)
cred("azure_devops_pat", "AZURE_DEVOPS_EXT_PAT={v}\n", "{z52}", ctx=True)
cred("azure_function_key", "x-functions-key: {v}\n", "{u54}==", ctx=True)
cred(
    "teams_webhook",
    "webhook: {v}\n",
    "https://contoso.webhook.office.com/webhookb2/{uuid}@{uuid}/IncomingWebhook/{x32}/{uuid}",
)
# code hosting and CI
cred(
    "github_pat_classic",
    "token: {v}\n",
    lambda r: crc_token(r, "ghp_"),
    neg=["token: ghp_" + "x" * 36 + "\n"],
)
cred("github_pat_fine_grained", "GH_TOKEN={v}\n", "github_pat_{n22}_{n59}")
cred(
    "github_oauth_token",
    "oauth {v}\n",
    lambda r: crc_token(r, "gho_"),
    neg=["oauth gho_" + "0" * 36 + "\n"],
)
cred(
    "github_app_token",
    "app {v}\n",
    lambda r: crc_token(r, "ghs_"),
    neg=["app ghs_" + "x" * 36 + "\n"],
)
cred("github_refresh_token", "refresh {v}\n", lambda r: crc_token(r, "ghr_"))
cred("gitlab_pat", "PRIVATE-TOKEN: {v}\n", "glpat-{u20}")
cred("gitlab_deploy_token", "CI_DEPLOY_PASSWORD={v}\n", "gldt-{u20}")
cred("gitlab_runner_token", 'token = "{v}"\n', "glrt-{u20}")
cred("gitlab_runner_registration_token", "registration-token {v}\n", "GR1348941{u20}")
cred("gitlab_ci_job_token", "CI_JOB_TOKEN={v}\n", "glcbt-64_{u20}")
cred("gitlab_feed_token", "feed_token={v}\n", "glft-{u20}")
cred("gitlab_scim_token", "SCIM_TOKEN={v}\n", "glsoat-{u20}")
cred("gitlab_incoming_mail_token", "incoming={v}\n", "glimt-{u25}")
cred("gitlab_pipeline_trigger_token", "TRIGGER_TOKEN={v}\n", "glptt-{x40}")
cred("gitlab_agent_token", "agent-token: {v}\n", "glagent-{u50}")
cred("gitlab_oauth_app_secret", "secret: {v}\n", "gloas-{x64}")
cred("gitlab_feature_flag_token", "UNLEASH_INSTANCE_ID={v}\n", "glffct-{u20}")
cred("bitbucket_app_password", "BITBUCKET_APP_PASSWORD={v}\n", "ATBB{n32}{X8}")
cred("atlassian_api_token", "JIRA_API_TOKEN={v}\n", "ATATT3xFfGF0{u180}={X8}")
cred("circleci_token", "CIRCLE_TOKEN={v}\n", "CCIPAT_{n22}_{x40}")
cred("buildkite_token", "BUILDKITE_API_TOKEN={v}\n", "bkua_{x40}")
cred("sonarqube_token", "SONAR_TOKEN={v}\n", "squ_{x40}")
cred("octopus_deploy_key", "X-Octopus-ApiKey: {v}\n", "API-{U26}")
cred("harness_pat", "x-api-key: {v}\n", "pat.{u22}.{x24}.{n20}")
cred("travis_ci_token", "TRAVIS_API_TOKEN={v}\n", "{n22}", ctx=True)
# infrastructure
cred("terraform_cloud_token", 'token = "{v}"\n', "{n14}.atlasv1.{u67}")
cred("pulumi_access_token", "PULUMI_ACCESS_TOKEN={v}\n", "pul-{x40}")
cred("doppler_token", "DOPPLER_TOKEN={v}\n", "dp.st.{n40}")
cred("vault_service_token", "VAULT_TOKEN={v}\n", "hvs.{u95}")
cred("vault_batch_token", "VAULT_TOKEN={v}\n", "hvb.{u150}")
cred("vault_legacy_token", "VAULT_TOKEN={v}\n", "s.{n24}", ctx=True)
cred("onepassword_service_account", "OP_SERVICE_ACCOUNT_TOKEN={v}\n", "ops_eyJ{u260}")
cred("onepassword_secret_key", "Secret Key: {v}\n", "A3-{U6}-{U6}-{U5}-{U5}-{U5}-{U5}")
cred("docker_hub_pat", "DOCKER_PASSWORD={v}\n", "dckr_pat_{u27}")
cred("docker_hub_oat", "DOCKER_TOKEN={v}\n", "dckr_oat_{u32}")
cred(
    "k8s_service_account_token",
    "token: {v}\n",
    lambda r: jwt_token(
        r,
        "RS256",
        {
            "iss": "kubernetes/serviceaccount",
            "kubernetes.io/serviceaccount/namespace": "default",
            "sub": "system:serviceaccount:default:builder",
        },
    ),
    auto=False,
    neg=["token: eyJhbGciOiJSUzI1NiJ9.eyJub3QganNvbg.c2lnbmF0dXJlMTIz\n"],
)
cred("kubeconfig_client_key", "    client-key-data: {v}\n", "LS0tLS1CRUdJTi{b60}==")
cred("heroku_api_key", "HEROKU_API_KEY={v}\n", "HRKU-AA{u58}")
cred("heroku_api_key_legacy", "HEROKU_API_KEY={v}\n", "{uuid}", ctx=True)
cred("fly_access_token", 'FLY_API_TOKEN="{v}"\n', "FlyV1 fm2_{u160}")
cred("fly_org_token", "FLY_API_TOKEN={v}\n", "fo1_{u43}")
cred("vercel_token", "VERCEL_TOKEN={v}\n", "{n24}", ctx=True)
cred("netlify_token", "NETLIFY_AUTH_TOKEN={v}\n", "nfp_{n36}")
cred("digitalocean_pat", "DIGITALOCEAN_TOKEN={v}\n", "dop_v1_{x64}")
cred("digitalocean_oauth_token", "token={v}\n", "doo_v1_{x64}")
cred("digitalocean_refresh_token", "refresh={v}\n", "dor_v1_{x64}")
cred("cloudflare_user_api_key", "CF_KEY={v}\n", "cfk_{n40}{x8}")
cred("cloudflare_user_api_token", "CF_TOKEN={v}\n", "cfut_{n40}{x8}")
cred("cloudflare_account_api_token", "CF_ACCOUNT_TOKEN={v}\n", "cfat_{n40}{x8}")
cred("cloudflare_global_api_key", "X-Auth-Key: {v}\n", "{x37}", ctx=True)
cred("cloudflare_api_token_legacy", "CLOUDFLARE_API_TOKEN={v}\n", "{u40}", ctx=True)
cred("cloudflare_origin_ca_key", "CF_ORIGIN_CA_KEY={v}\n", "v1.0-{x24}-{x146}")
cred("render_api_key", "RENDER_API_KEY={v}\n", "rnd_{n32}")
cred("supabase_access_token", "SUPABASE_ACCESS_TOKEN={v}\n", "sbp_{x40}")
cred("supabase_secret_key", "SUPABASE_SECRET_KEY={v}\n", "sb_secret_{u32}")
cred("planetscale_token", "PLANETSCALE_TOKEN={v}\n", "pscale_tkn_{u43}")
cred("neon_api_key", "NEON_API_KEY={v}\n", "napi_{L64}")
cred("databricks_token", "DATABRICKS_TOKEN={v}\n", "dapi{x32}")
cred("databricks_oauth_secret", "DATABRICKS_CLIENT_SECRET={v}\n", "dose{x32}")
cred("tailscale_key", "TS_AUTHKEY={v}\n", "tskey-auth-{n12}-{n32}")
cred("ngrok_token", "NGROK_AUTHTOKEN={v}\n", "2{n26}_{n21}", ctx=True)
cred("scaleway_secret_key", "SCW_SECRET_KEY={v}\n", "{uuid}", ctx=True)
cred("linode_token", "LINODE_TOKEN={v}\n", "{x64}", ctx=True)
cred("hetzner_token", "HCLOUD_TOKEN={v}\n", "{n64}", ctx=True)
cred("alibaba_access_key_id", "ALIBABA_CLOUD_ACCESS_KEY_ID={v}\n", "LTAI{n20}")
cred("tencent_secret_id", "TENCENTCLOUD_SECRET_ID={v}\n", "AKID{n32}")
cred("ibm_cloud_api_key", "IBMCLOUD_API_KEY={v}\n", "{u44}", ctx=True)
cred("yandex_api_key", "YC_API_KEY={v}\n", "AQVN{u36}")
cred("yandex_iam_token", "YC_IAM_TOKEN={v}\n", "t1.{u120}")
cred("snyk_token", "SNYK_TOKEN={v}\n", "{uuid}", ctx=True)
cred("infracost_api_key", "INFRACOST_API_KEY={v}\n", "ico-{n32}")
cred("prefect_api_key", "PREFECT_API_KEY={v}\n", "pnu_{n36}")
cred("artifactory_api_key", "ARTIFACTORY_API_KEY={v}\n", "AKCp{n69}")
cred("artifactory_reference_token", "JFROG_ACCESS_TOKEN={v}\n", "cmVmdGtu{n56}")
cred("okta_api_token", "Authorization: SSWS {v}\n", "00{u40}", ctx=True)
cred("auth0_client_secret", "AUTH0_CLIENT_SECRET={v}\n", "{u64}", ctx=True)
# registries
cred(
    "npm_token",
    "//registry.npmjs.org/:_authToken={v}\n",
    lambda r: crc_token(r, "npm_"),
    neg=["npm_" + "x" * 36 + "\n", "//registry.npmjs.org/:_authToken=${NPM_TOKEN}\n"],
)
cred(
    "npm_legacy_auth_token",
    "//registry.npmjs.org/:{v}\n",
    "_authToken={uuid}",
    auto=False,
    neg=["//registry.npmjs.org/:_authToken=00000000-0000-0000-0000-000000000000\n"],
)
cred(
    "pypi_token",
    "password = {v}\n",
    lambda r: macaroon(r, "pypi.org"),
    auto=False,
    neg=[
        "password = pypi-AgEIcHlwaS5vcmcxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
        "password = pypi-AgEIcHlwaS5vcmc" + "Q2hhbmdlTWU" * 6 + "\n",
    ],
)
cred("rubygems_api_key", "GEM_HOST_API_KEY={v}\n", "rubygems_{x48}")
cred("nuget_api_key", "NUGET_API_KEY={v}\n", "oy2{L43}")
cred("clojars_token", "CLOJARS_PASSWORD={v}\n", "CLOJARS_{L60}")
cred("crates_io_token", "CARGO_REGISTRY_TOKEN={v}\n", "cio{n32}")
cred("postman_api_key", "X-Api-Key: {v}\n", "PMAK-{x24}-{x34}")
cred("readme_api_key", "README_API_KEY={v}\n", "rdme_{L70}")
# communication
cred(
    "slack_token",
    "SLACK_BOT_TOKEN={v}\n",
    "xoxb-{d12}-{d13}-{n24}",
    auto=False,
    neg=[
        "SLACK_BOT_TOKEN=xoxb-{d5}\n",
        "SLACK_BOT_TOKEN=xoxq-{d12}-{d13}-{n24}\n",
        "SLACK_BOT_TOKEN=xoxb-your-token-here-xxxxxxxxx\n",
    ],
)
cred(
    "slack_webhook",
    "webhook: {v}\n",
    "https://hooks.slack.com/services/T{U10}/B{U10}/{n24}",
    neg=[
        "webhook: https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX\n"
    ],
)
cred(
    "discord_webhook",
    "hook={v}\n",
    "https://discord.com/api/webhooks/{d18}/{u68}",
    neg=["hook=https://discord.com/api/webhooks/000000000000000000/" + "x" * 68 + "\n"],
)


def discord_bot_token(r: Rand, digits: int = 0, mac: int = 0) -> str:
    """Discord's format: base64 of the bot's user id in decimal (a snowflake, 17-20 digits),
    base64 of a 4-byte timestamp, then the HMAC (27 characters, 38 in newer tokens)."""
    n = digits or r.r.choice((17, 18, 18, 19, 19, 20))
    user_id = str(r.r.randrange(10 ** (n - 1), 10**n))
    stamp = _b64url(r.r.getrandbits(32).to_bytes(4, "big"))
    return f"{_b64url(user_id.encode())}.{stamp}.{r.tok('u', mac or r.r.choice((27, 38)))}"


def _discord_from_draws(drawn: str) -> str:
    """A Discord bot token (18-digit id, 38-character HMAC) seeded by ``drawn``: the corpus
    draws the template's characters as it always did, so every other entry's samples (and
    the bench corpus around them) stay the same, and the token keeps the template's length."""
    return discord_bot_token(Rand(int(hashlib.sha256(drawn.encode()).hexdigest()[:16], 16)), 18, 38)


cred(
    "discord_bot_token",
    "DISCORD_BOT_TOKEN={v}\n",
    "M{u23}.{u6}.{u38}",
    derive=_discord_from_draws,
    neg=[
        # the old loose shape: a first segment that is not the base64 of a decimal id
        "DISCORD_BOT_TOKEN=MzQ1Njc4OTAxMjM0NTY3ODkwA1.Yk3aZw.x" + "Qw3rTy9Zk" * 4 + "\n",
        "DISCORD_BOT_TOKEN=OTAxMjM0NTY3ODkwMTIzNDU2Nzh.Yk3aZw.x" + "Qw3rTy9Zk" * 3 + "\n",
        # base64 of an id with a letter in it, of a 16-digit number, a short HMAC
        "DISCORD_BOT_TOKEN=MTIzNDU2Nzg5MDEyMzQ1Njc4OWE.Yk3aZw.x" + "Qw3rTy9Zk" * 4 + "\n",
        "DISCORD_BOT_TOKEN=MTIzNDU2Nzg5MDEyMzQ1Ng.Yk3aZw.x" + "Qw3rTy9Zk" * 4 + "\n",
        "DISCORD_BOT_TOKEN=MTIzNDU2Nzg5MDEyMzQ1Njc4.Yk3aZw.xQw3rTy9ZkQw3rTy9Zk\n",
    ],
)
cred("telegram_bot_token", "TELEGRAM_BOT_TOKEN={v}\n", "{d10}:AA{u33}")
cred("twilio_api_key", "TWILIO_API_KEY={v}\n", "SK{x32}")
cred("twilio_auth_token", "TWILIO_AUTH_TOKEN={v}\n", "{x32}", ctx=True)
cred("sendgrid_api_key", "SENDGRID_API_KEY={v}\n", "SG.{u22}.{u43}")
cred("mailgun_api_key", "MAILGUN_API_KEY={v}\n", "key-{x32}")
cred("mailgun_private_key", "MAILGUN_API_KEY={v}\n", "{x32}-{x8}-{x8}", ctx=True)
cred("mailchimp_api_key", "MAILCHIMP_API_KEY={v}\n", "{x32}-us{d2}")
cred("mandrill_api_key", "MANDRILL_API_KEY={v}\n", "md-{n22}", ctx=True)
cred("postmark_server_token", "X-Postmark-Server-Token: {v}\n", "{uuid}", ctx=True)
cred("brevo_api_key", "BREVO_API_KEY={v}\n", "xkeysib-{x64}-{n16}")
cred("mailjet_api_secret", "MJ_APIKEY_PRIVATE={v}\n", "{x32}", ctx=True)
cred("vonage_api_secret", "VONAGE_API_SECRET={v}\n", "{n16}", ctx=True)
cred("plivo_auth_token", "PLIVO_AUTH_TOKEN={v}\n", "{n40}", ctx=True)
cred("messagebird_api_key", "MESSAGEBIRD_API_KEY={v}\n", "{n25}", ctx=True)
cred("pusher_app_secret", "PUSHER_APP_SECRET={v}\n", "{x20}", ctx=True)
cred("ably_api_key", "ABLY_API_KEY={v}\n", "{n6}.{n6}:{u43}", ctx=True)
cred("mattermost_token", "MM_TOKEN={v}\n", "{L26}", ctx=True)
cred("zendesk_api_token", "ZENDESK_API_TOKEN={v}\n", "{n40}", ctx=True)
cred("intercom_access_token", "INTERCOM_TOKEN={v}\n", "dG9rOj{u54}=")
# productivity and SaaS
cred("linear_api_key", "LINEAR_API_KEY={v}\n", "lin_api_{n40}")
cred("linear_oauth_token", "LINEAR_TOKEN={v}\n", "lin_oauth_{x64}")
cred("notion_token", "NOTION_TOKEN={v}\n", "ntn_{d11}{n35}")
cred("airtable_pat", "AIRTABLE_TOKEN={v}\n", "pat{n14}.{x64}")
cred("airtable_api_key", "AIRTABLE_API_KEY={v}\n", "key{n14}", ctx=True)
cred(
    "asana_pat",
    "ASANA_TOKEN={v}\n",
    "1/{d16}:{x32}",
    # version leads Asana does not issue (fixed text: the corpus draws stay as they were)
    neg=[
        "ASANA_TOKEN=3/1204567890123456:" + "9f8e7d6c5b4a3928" * 2 + "\n",
        "ASANA_TOKEN=0/1204567890123456:" + "9f8e7d6c5b4a3928" * 2 + "\n",
    ],
)
cred("clickup_token", "CLICKUP_TOKEN={v}\n", "pk_{d8}_{U32}")
cred("figma_pat", "X-Figma-Token: {v}\n", "figd_{u40}")
cred("hubspot_private_app_token", "HUBSPOT_TOKEN={v}\n", "pat-na1-{uuid}")
cred("contentful_pat", "CONTENTFUL_MANAGEMENT_TOKEN={v}\n", "CFPAT-{u43}")
cred("frameio_token", "FRAMEIO_TOKEN={v}\n", "fio-u-{u64}")
cred("typeform_token", "TYPEFORM_TOKEN={v}\n", "tfp_{u59}")
cred("dropbox_token", "DROPBOX_TOKEN={v}\n", "sl.{u140}")
cred("mapbox_secret_token", "MAPBOX_SECRET_TOKEN={v}\n", "sk.eyJ{u60}.{u22}")
cred("shopify_access_token", "X-Shopify-Access-Token: {v}\n", "shpat_{x32}")
cred("shopify_custom_app_token", "SHOPIFY_TOKEN={v}\n", "shpca_{x32}")
cred("shopify_private_app_token", "SHOPIFY_PASSWORD={v}\n", "shppa_{x32}")
cred("shopify_shared_secret", "SHOPIFY_SECRET={v}\n", "shpss_{x32}")
cred("salesforce_access_token", "Authorization: OAuth {v}\n", "00D{n12}!{n96}")
cred("launchdarkly_token", "LD_API_KEY={v}\n", "api-{uuid}", ctx=True)
cred("posthog_personal_key", "POSTHOG_PERSONAL_API_KEY={v}\n", "phx_{n43}")
cred("klaviyo_private_key", "KLAVIYO_PRIVATE_KEY={v}\n", "pk_{x34}")
cred("algolia_admin_key", "ALGOLIA_ADMIN_KEY={v}\n", "{x32}", ctx=True)
cred("segment_write_key", "SEGMENT_WRITE_KEY={v}\n", "{n32}", ctx=True)
cred("mixpanel_api_secret", "MIXPANEL_API_SECRET={v}\n", "{x32}", ctx=True)
cred("amplitude_secret_key", "AMPLITUDE_SECRET_KEY={v}\n", "{x32}", ctx=True)
cred("trello_token", "TRELLO_TOKEN={v}\n", "ATTA{n64}")
cred("zoom_client_secret", "ZOOM_CLIENT_SECRET={v}\n", "{n32}", ctx=True)
cred("lokalise_token", "LOKALISE_API_TOKEN={v}\n", "{x40}", ctx=True)
cred("twitter_bearer_token", "TWITTER_BEARER_TOKEN={v}\n", "AAAAAAAAAAAAAAAAAAAAA{n50}")
cred("facebook_access_token", "FB_ACCESS_TOKEN={v}\n", "EAAG{n120}")
cred(
    "cloudinary_url",
    "CLOUDINARY_URL={v}\n",
    "cloudinary://{d15}:{u27}@acme-media",
    auto=False,
    neg=["CLOUDINARY_URL=cloudinary://123456789012345:${API_SECRET}@acme\n"],
)
cred("shippo_token", "SHIPPO_API_KEY={v}\n", "shippo_live_{x40}")
cred("easypost_api_key", "EASYPOST_API_KEY={v}\n", "EZAK{n54}")
cred("duffel_token", "DUFFEL_ACCESS_TOKEN={v}\n", "duffel_live_{u43}")
cred("scalingo_token", "SCALINGO_API_TOKEN={v}\n", "tk-us-{u48}")
# observability
cred("datadog_api_key", "DD_API_KEY={v}\n", "{x32}", ctx=True)
cred("datadog_app_key", "DD_APP_KEY={v}\n", "{x40}", ctx=True)
cred("newrelic_user_key", "NEW_RELIC_API_KEY={v}\n", "NRAK-{U27}")
cred("newrelic_admin_key", "NEW_RELIC_ADMIN_KEY={v}\n", "NRAA-{x27}")
cred("newrelic_browser_key", "NEW_RELIC_BROWSER_KEY={v}\n", "NRJS-{x19}")
cred("newrelic_insights_key", "X-Insert-Key: {v}\n", "NRII-{u32}")
cred("newrelic_license_key", "NEW_RELIC_LICENSE_KEY={v}\n", "{x36}NRAL")
cred("sentry_org_token", "SENTRY_AUTH_TOKEN={v}\n", "sntrys_eyJ{u110}")
cred("sentry_user_token", "SENTRY_AUTH_TOKEN={v}\n", "sntryu_{x64}")
cred(
    "sentry_dsn",
    "SENTRY_DSN={v}\n",
    "https://{x32}@o{d6}.ingest.sentry.io/{d7}",
    auto=False,
    neg=[
        "SENTRY_DSN=https://public@sentry.example.com/1\n",
        "SENTRY_DSN=https://{x16}.ingest.sentry.io/{d7}\n",
    ],
)
cred("grafana_cloud_token", "GRAFANA_CLOUD_TOKEN={v}\n", "glc_{b60}")
cred("grafana_service_account_token", "GRAFANA_TOKEN={v}\n", "glsa_{n32}_{x8}")
cred("dynatrace_token", "DT_API_TOKEN={v}\n", "dt0c01.{U24}.{U64}")
cred("splunk_hec_token", "Authorization: Splunk {v}\n", "{UUID}", ctx=True)
cred("honeycomb_api_key", "HONEYCOMB_API_KEY={v}\n", "hcaik_{L58}")
cred("pagerduty_token", "PAGERDUTY_TOKEN={v}\n", "u+{n18}", ctx=True)
cred("opsgenie_api_key", "Authorization: GenieKey {v}\n", "{uuid}", ctx=True)
# payments
cred(
    "stripe_secret_key",
    "stripe.api_key = '{v}'\n",
    "sk_live_{n24}",
    neg=["stripe.api_key = 'sk_live_" + "x" * 24 + "'\n"],
)
cred("stripe_restricted_key", "STRIPE_RK={v}\n", "rk_live_{n30}")
cred(
    "stripe_test_secret_key",
    "stripe.api_key = '{v}'\n",
    "sk_test_{n24}",
    neg=["stripe.api_key = 'sk_test_4eC39HqLyjWDarjtT1zdp7dc'\n"],
)
cred("stripe_test_restricted_key", "STRIPE_TEST_RK={v}\n", "rk_test_{n30}")
cred("stripe_webhook_secret", "STRIPE_WEBHOOK_SECRET={v}\n", "whsec_{n32}")
cred("square_access_token", "SQUARE_ACCESS_TOKEN={v}\n", "EAAA{u60}")
cred("square_legacy_token", "SQUARE_TOKEN={v}\n", "sq0atp-{u22}")
cred("square_oauth_secret", "SQUARE_OAUTH_SECRET={v}\n", "sq0csp-{u43}")
cred("braintree_access_token", "BRAINTREE_TOKEN={v}\n", "access_token$production${L16}${x32}")
cred("paypal_client_secret", "PAYPAL_CLIENT_SECRET={v}\n", "E{u79}", ctx=True)
cred("plaid_access_token", "access_token: {v}\n", "access-production-{uuid}")
cred("razorpay_key", "RAZORPAY_KEY_ID={v}\n", "rzp_live_{n14}")
cred("flutterwave_secret_key", "FLW_SECRET_KEY={v}\n", "FLWSECK-{x32}-X")
cred("adyen_api_key", "ADYEN_API_KEY={v}\n", "AQE{u140}", ctx=True)
cred("coinbase_api_secret", "COINBASE_API_SECRET={v}\n", "{n32}", ctx=True)
# private keys in every wrapping
cred(
    "private_key",
    "{v}\n{b64}\n-----END RSA PRIVATE KEY-----\n",
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEow{b58}",
    auto=False,
    neg=[
        "-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----\n",
        "-----BEGIN OPENSSH PRIVATE KEY-----\n" + "x" * 64 + "\n",
    ],
)
cred(
    "ssh2_private_key",
    "{v}\n{b64}\n---- END SSH2 ENCRYPTED PRIVATE KEY ----\n",
    '---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----\nComment: "rsa-key"\nP2/56w{b58}',
    auto=False,
    neg=["---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----\n" + "x" * 64 + "\n"],
)
cred(
    "putty_private_key",
    "{v}\n",
    "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: ops\nPublic-Lines: 2\n"
    "AAAAC3NzaC1lZDI1NTE5AAAAI{b44}\nPrivate-Lines: 1\nAAAAI{b40}",
    auto=False,
    neg=[
        "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nPrivate-Lines: 1\n" + "A" * 44 + "\n"
    ],
)
cred(
    "private_key_base64",
    "tls.key: {v}\n",
    "LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQ{b70}",
    auto=False,
    neg=["tls.key: LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQ==\n"],
)
cred(
    "age_secret_key",
    "{v}\n",
    lambda r: age_key(r),
    auto=False,
    neg=["AGE-SECRET-KEY-1" + "Q" * 58 + "\n"],
)
# tokens, headers and connection strings
cred(
    "jwt",
    "Authorization: Bearer {v}\n",
    lambda r: jwt_token(r),
    auto=False,
    neg=[
        "token eyJub3RhbGciOiJ4In0.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJlMTIz\n",
        "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0 end\n",
    ],
)
cred(
    "basic_auth_header",
    "Authorization: Basic {v}\n",
    lambda r: base64.b64encode(f"svc-{r.tok('a', 5)}:{r.tok('n', 14)}".encode()).decode(),
    auto=False,
    neg=["Authorization: Basic " + base64.b64encode(b"user:password").decode() + "\n"],
)
cred(
    "bearer_token_header",
    "curl -H 'Authorization: Bearer {v}'\n",
    "{n40}",
    auto=False,
    neg=[
        "Authorization: Bearer <your-access-token-here-xxxxxxxx>\n",
        "Authorization: Bearer " + "x" * 40 + "\n",
    ],
)
cred(
    "password_assignment",
    'DB_PASSWORD = "{v}"\n',
    "{n10}#{d3}",
    auto=False,
    neg=[
        'password = "${DB_PASSWORD}"\n',
        "password: changeme123\n",
        'pwd = "********"\n',
        "password = %(db_password)s\n",
    ],
)
cred(
    "url_credentials",
    "remote = {v}\n",
    "https://deploy:{n16}@git.acme-corp.io",
    auto=False,
    neg=["remote = https://deploy:${GIT_TOKEN}@git.acme-corp.io\n"],
)
cred(
    "postgres_connection_string",
    "DATABASE_URL={v}/app\n",
    "postgresql://app_user:{n18}@db.acme-corp.io:5432",
    auto=False,
    neg=[
        "DATABASE_URL=postgres://user:password@localhost/app\n",
        "DATABASE_URL=postgres://app:${PGPASSWORD}@db/app\n",
    ],
)
cred(
    "mysql_connection_string",
    "DSN={v}/shop\n",
    "mysql://shop:{n18}@mysql.acme-corp.io",
    auto=False,
    neg=["DSN=mysql://root:<password>@localhost/shop\n"],
)
cred(
    "mongodb_connection_string",
    "MONGO_URL={v}/prod\n",
    "mongodb+srv://svc:{n18}@cluster0.ab1cd.mongodb.net",
    auto=False,
    neg=["MONGO_URL=mongodb+srv://svc:<db_password>@cluster0.mongodb.net/prod\n"],
)
cred(
    "redis_connection_string",
    "REDIS_URL={v}/0\n",
    "redis://:{n20}@cache.acme-corp.io:6379",
    auto=False,
    neg=["REDIS_URL=redis://:{{redis_password}}@cache:6379/0\n"],
)
cred(
    "amqp_connection_string",
    "BROKER_URL={v}//\n",
    "amqps://worker:{n18}@mq.acme-corp.io",
    auto=False,
    neg=["BROKER_URL=amqp://guest:guest@localhost//\n"],
)
cred(
    "mssql_connection_string",
    "ConnectionString={v};\n",
    "Server=tcp:sql.acme-corp.io,1433;Database=crm;User ID=crm;Password={n18}",
    auto=False,
    neg=["ConnectionString=Server=sql;Database=crm;User ID=sa;Password=********;\n"],
)
cred(
    "jdbc_connection_string",
    "url={v}\n",
    "jdbc:postgresql://db.acme-corp.io:5432/crm?user=crm&password={n18}",
    auto=False,
    neg=["url=jdbc:postgresql://db/crm?user=crm&password=${JDBC_PASSWORD}\n"],
)
cred(
    "snowflake_connection_string",
    "SNOWFLAKE_URL={v}/analytics\n",
    "snowflake://etl_user:{n18}@xy12345.eu-central-1",
    auto=False,
    neg=["SNOWFLAKE_URL=snowflake://etl:<password>@xy12345/analytics\n"],
)
cred(
    "clickhouse_connection_string",
    "CH_URL={v}/default\n",
    "clickhouse://reader:{n18}@ch.acme-corp.io:9000",
    auto=False,
    neg=["CH_URL=clickhouse://default:@localhost:9000/default\n"],
)

_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def _bech32_checksum(hrp: str, data: list[int], const: int) -> list[int]:
    def polymod(values: list[int]) -> int:
        gen = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
        chk = 1
        for v in values:
            b = chk >> 25
            chk = ((chk & 0x1FFFFFF) << 5) ^ v
            for i in range(5):
                chk ^= gen[i] if ((b >> i) & 1) else 0
        return chk

    expanded = [ord(x) >> 5 for x in hrp] + [0] + [ord(x) & 31 for x in hrp]
    pm = polymod(expanded + data + [0] * 6) ^ const
    return [(pm >> 5 * (5 - i)) & 31 for i in range(6)]


def age_key(r: Rand) -> str:
    data = [r.r.randrange(32) for _ in range(52)]
    check = _bech32_checksum("age-secret-key-", data, 1)
    return ("AGE-SECRET-KEY-1" + "".join(_BECH32[d] for d in data + check)).upper()


# --------------------------------------------------------------------------------------------
# Identifier generators: (value, a near miss with a wrong check digit)
# --------------------------------------------------------------------------------------------


def _wsum(digits: str, weights: list[int] | tuple[int, ...] | range) -> int:
    return sum(int(c) * w for c, w in zip(digits, weights, strict=False))


def _luhn_digit(partial: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(partial)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def _bump(value: str, index: int = -1) -> str:
    """The same value with the character at ``index`` changed (digit +1, letter +1)."""
    i = index % len(value)
    c = value[i]
    if c.isdigit():
        new = str((int(c) + 1) % 10)
    elif c.isalpha():
        new = chr((ord(c.upper()) - 65 + 1) % 26 + 65)
    else:
        new = c
    return value[:i] + new + value[i + 1 :]


def _date6(r: Rand) -> tuple[str, int, int, int]:
    y, m, d = r.r.randint(50, 99), r.r.randint(1, 12), r.r.randint(1, 28)
    return f"{y:02d}{m:02d}{d:02d}", y, m, d


def _mod11_10(digits: str) -> str:
    p = 10
    for c in digits:
        s = (int(c) + p) % 10
        s = 10 if s == 0 else s
        p = (2 * s) % 11
    return str((11 - p) % 10)


IdGen = Callable[[Rand], tuple[str, str]]


def gen_es_dni(r: Rand) -> tuple[str, str]:
    n = r.tok("d", 8)
    letters = "TRWAGMYFPDXBNJZSQVHLCKE"
    good = n + letters[int(n) % 23]
    return good, n + letters[(int(n) + 1) % 23]


def gen_es_nie(r: Rand) -> tuple[str, str]:
    p = r.r.choice("XYZ")
    n = r.tok("d", 7)
    letters = "TRWAGMYFPDXBNJZSQVHLCKE"
    k = int(str("XYZ".index(p)) + n) % 23
    return f"{p}{n}{letters[k]}", f"{p}{n}{letters[(k + 1) % 23]}"


def gen_it_cf(r: Rand) -> tuple[str, str]:
    odd = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25,
           24, 23]  # fmt: skip
    body = (r.tok("A", 6) + f"{r.r.randint(40, 99):02d}" + r.r.choice("ABCDEHLMPRST")
            + f"{r.r.randint(1, 71):02d}" + r.tok("A", 1) + r.tok("d", 3))  # fmt: skip
    total = 0
    for i, c in enumerate(body):
        v = int(c) if c.isdigit() else ord(c) - 65
        total += odd[v] if i % 2 == 0 else v
    check = chr(65 + total % 26)
    return body + check, body + chr(65 + (total + 1) % 26)


def gen_de_tax(r: Rand) -> tuple[str, str]:
    while True:
        digits = r.r.sample("0123456789", 9)
        if digits[0] == "0":
            continue
        first10 = "".join(digits) + r.r.choice(digits[1:])
        check = _mod11_10(first10)
        good = first10 + check
        return f"{good[:2]} {good[2:5]} {good[5:8]} {good[8:]}", _bump(good)


def gen_fr_nir(r: Rand) -> tuple[str, str]:
    body = (r.r.choice("12") + f"{r.r.randint(50, 99):02d}" + f"{r.r.randint(1, 12):02d}"
            + f"{r.r.randint(1, 95):02d}" + r.tok("d", 3) + r.tok("d", 3))  # fmt: skip
    key = 97 - int(body) % 97
    good = f"{body}{key:02d}"
    return good, good[:-2] + f"{(key % 97) + 1:02d}"[-2:]


def gen_nl_bsn(r: Rand) -> tuple[str, str]:
    while True:
        d = str(r.r.randint(1, 9)) + r.tok("d", 7)
        s = _wsum(d, range(9, 1, -1))
        last = s % 11
        if last <= 9:
            good = d + str(last)
            return good, _bump(good)


def gen_pl_pesel(r: Rand) -> tuple[str, str]:
    y, m, d = r.r.randint(0, 99), r.r.randint(1, 12), r.r.randint(1, 28)
    mm = m + (20 if y < 25 else 0)
    if y < 25:
        pass
    body = f"{y:02d}{mm:02d}{d:02d}" + r.tok("d", 4)
    check = (10 - _wsum(body, [1, 3, 7, 9, 1, 3, 7, 9, 1, 3]) % 10) % 10
    good = body + str(check)
    return good, _bump(good)


def gen_se_pnr(r: Rand) -> tuple[str, str]:
    date6, *_ = _date6(r)
    partial = date6 + r.tok("d", 3)
    good = partial + _luhn_digit(partial)
    return f"{good[:6]}-{good[6:]}", f"{good[:6]}-{_bump(good)[6:]}"


def gen_fi_hetu(r: Rand) -> tuple[str, str]:
    d, m, y = r.r.randint(1, 28), r.r.randint(1, 12), r.r.randint(50, 99)
    n = r.r.randint(2, 899)
    checks = "0123456789ABCDEFHJKLMNPRSTUVWXY"
    num = int(f"{d:02d}{m:02d}{y:02d}{n:03d}")
    good = f"{d:02d}{m:02d}{y:02d}-{n:03d}{checks[num % 31]}"
    return good, good[:-1] + checks[(num + 1) % 31]


_VD = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
       [2, 3, 4, 0, 1, 7, 8, 9, 5, 6], [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
       [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
       [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
       [8, 7, 6, 5, 9, 3, 2, 1, 0, 4], [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]]  # fmt: skip
_VP = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
       [5, 8, 0, 3, 7, 9, 6, 1, 4, 2], [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
       [9, 4, 5, 3, 1, 2, 8, 7, 0, 6], [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
       [2, 7, 9, 3, 8, 0, 6, 4, 1, 5], [7, 0, 4, 6, 9, 1, 3, 2, 5, 8]]  # fmt: skip
_VINV = [0, 4, 3, 2, 1, 5, 6, 7, 8, 9]


def gen_aadhaar(r: Rand) -> tuple[str, str]:
    partial = str(r.r.randint(2, 9)) + r.tok("d", 10)
    c = 0
    for i, ch in enumerate(reversed(partial)):
        c = _VD[c][_VP[(i + 1) % 8][int(ch)]]
    good = partial + str(_VINV[c])
    return f"{good[:4]} {good[4:8]} {good[8:]}", f"{good[:4]} {good[4:8]} {_bump(good)[8:]}"


def gen_in_pan(r: Rand) -> tuple[str, str]:
    good = r.tok("A", 3) + r.r.choice("CPHFATBLJG") + r.tok("A", 1) + "4" + r.tok("d", 3)
    good += r.tok("A", 1)
    return good, good[:3] + "Q" + good[4:]  # Q is not a holder type


def gen_br_cpf(r: Rand) -> tuple[str, str]:
    d = r.tok("d", 9)
    for n in (9, 10):
        d += str(_wsum(d, range(n + 1, 1, -1)) * 10 % 11 % 10)
    return f"{d[:3]}.{d[3:6]}.{d[6:9]}-{d[9:]}", f"{d[:3]}.{d[3:6]}.{d[6:9]}-{_bump(d)[9:]}"


def gen_br_cnpj(r: Rand) -> tuple[str, str]:
    d = r.tok("d", 8) + "0001"
    for weights in ([5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2], [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]):
        rem = _wsum(d, weights) % 11
        d += str(0 if rem < 2 else 11 - rem)

    def fmt(x: str) -> str:
        return f"{x[:2]}.{x[2:5]}.{x[5:8]}/{x[8:12]}-{x[12:]}"

    return fmt(d), fmt(_bump(d))


def gen_sg_nric(r: Rand) -> tuple[str, str]:
    p = r.r.choice("STFG")
    n = r.tok("d", 7)
    total = _wsum(n, [2, 7, 6, 5, 4, 3, 2]) + (4 if p in "TG" else 0)
    table = "JZIHGFEDCBA" if p in "ST" else "XWUTRQPNMLK"
    return p + n + table[total % 11], p + n + table[(total + 1) % 11]


def gen_au_medicare(r: Rand) -> tuple[str, str]:
    d = str(r.r.randint(2, 6)) + r.tok("d", 7)
    d += str(_wsum(d, [1, 3, 7, 9, 1, 3, 7, 9]) % 10) + str(r.r.randint(1, 9))
    return f"{d[:4]} {d[4:9]} {d[9]}", f"{d[:4]} {d[4:8]}{_bump(d[8])} {d[9]}"


def gen_au_abn(r: Rand) -> tuple[str, str]:
    weights = [10, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19]
    while True:
        rest = r.tok("d", 9)
        for lead in range(10, 100):
            d = f"{lead}{rest}"
            probe = str(int(d[0]) - 1) + d[1:]
            if _wsum(probe, weights) % 89 == 0:
                return (
                    f"{d[:2]} {d[2:5]} {d[5:8]} {d[8:]}",
                    f"{d[:2]} {d[2:5]} {d[5:8]} {_bump(d)[8:]}",
                )


def gen_au_acn(r: Rand) -> tuple[str, str]:
    d = r.tok("d", 8)
    d += str((10 - _wsum(d, [8, 7, 6, 5, 4, 3, 2, 1]) % 10) % 10)
    return f"{d[:3]} {d[3:6]} {d[6:]}", f"{d[:3]} {d[3:6]} {_bump(d)[6:]}"


def gen_mx_clabe(r: Rand) -> tuple[str, str]:
    d = r.tok("d", 17)
    d += str((10 - sum(int(c) * w % 10 for c, w in zip(d, [3, 7, 1] * 6, strict=False)) % 10) % 10)
    return d, _bump(d)


def gen_hkid(r: Rand) -> tuple[str, str]:
    letter = r.tok("A", 1)
    digits = r.tok("d", 6)
    vals = [36, ord(letter) - 55] + [int(c) for c in digits]
    rem = 11 - sum(v * w for v, w in zip(vals, range(9, 1, -1), strict=True)) % 11
    check = "A" if rem == 10 else "0" if rem == 11 else str(rem)
    other = "1" if check != "1" else "2"
    return f"{letter}{digits}({check})", f"{letter}{digits}({other})"


def gen_tw_id(r: Rand) -> tuple[str, str]:
    codes = dict(zip("ABCDEFGHJKLMNPQRSTUVXYWZIO", range(10, 36), strict=True))
    letter = r.tok("A", 1)
    body = r.r.choice("12") + r.tok("d", 7)
    n = codes[letter]
    total = n // 10 + (n % 10) * 9 + _wsum(body, [8, 7, 6, 5, 4, 3, 2, 1])
    check = (10 - total % 10) % 10
    return f"{letter}{body}{check}", f"{letter}{body}{(check + 1) % 10}"


def gen_kr_rrn(r: Rand) -> tuple[str, str]:
    date6, *_ = _date6(r)
    body = date6 + r.r.choice("12") + r.tok("d", 5)
    check = (11 - _wsum(body, [2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5]) % 11) % 10
    return f"{body[:6]}-{body[6:]}{check}", f"{body[:6]}-{body[6:]}{(check + 1) % 10}"


def gen_cn_rid(r: Rand) -> tuple[str, str]:
    body = str(r.r.randint(11, 65)) + r.tok("d", 4) + f"19{r.r.randint(50, 99)}"
    body += f"{r.r.randint(1, 12):02d}{r.r.randint(1, 28):02d}" + r.tok("d", 3)
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    table = "10X98765432"
    k = _wsum(body, weights) % 11
    return body + table[k], body + table[(k + 1) % 11]


def gen_jp_my_number(r: Rand) -> tuple[str, str]:
    d = r.tok("d", 11)
    rem = _wsum(d, [6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2]) % 11
    good = d + str(0 if rem <= 1 else 11 - rem)
    return f"{good[:4]} {good[4:8]} {good[8:]}", f"{good[:4]} {good[4:8]} {_bump(good)[8:]}"


def gen_th_id(r: Rand) -> tuple[str, str]:
    d = str(r.r.randint(1, 8)) + r.tok("d", 11)
    good = d + str((11 - _wsum(d, range(13, 1, -1)) % 11) % 10)
    return good, _bump(good)


def gen_za_id(r: Rand) -> tuple[str, str]:
    date6, *_ = _date6(r)
    partial = date6 + r.tok("d", 4) + "08"
    good = partial + _luhn_digit(partial)
    return good, _bump(good)


def gen_cl_rut(r: Rand) -> tuple[str, str]:
    body = str(r.r.randint(10_000_000, 25_000_000))
    total = sum(int(c) * (2 + i % 6) for i, c in enumerate(reversed(body)))
    rem = 11 - total % 11
    check = "0" if rem == 11 else "K" if rem == 10 else str(rem)
    other = "1" if check != "1" else "2"
    dotted = f"{body[:2]}.{body[2:5]}.{body[5:]}"
    return f"{dotted}-{check}", f"{dotted}-{other}"


def gen_dk_cpr(r: Rand) -> tuple[str, str]:
    d, m, y = r.r.randint(1, 28), r.r.randint(1, 12), r.r.randint(50, 99)
    serial = r.tok("d", 4)
    return f"{d:02d}{m:02d}{y:02d}-{serial}", f"{d:02d}13{y:02d}-{serial}"  # month 13


def gen_no_fnr(r: Rand) -> tuple[str, str]:
    while True:
        d = f"{r.r.randint(1, 28):02d}{r.r.randint(1, 12):02d}{r.r.randint(50, 99):02d}"
        d += r.tok("d", 3)
        k1 = 11 - _wsum(d, [3, 7, 6, 1, 8, 9, 4, 5, 2]) % 11
        k1 = 0 if k1 == 11 else k1
        if k1 == 10:
            continue
        d += str(k1)
        k2 = 11 - _wsum(d, [5, 4, 3, 2, 7, 6, 5, 4, 3, 2]) % 11
        k2 = 0 if k2 == 11 else k2
        if k2 == 10:
            continue
        good = d + str(k2)
        return good, _bump(good)


def gen_be_nn(r: Rand) -> tuple[str, str]:
    date6, *_ = _date6(r)
    body = date6 + r.tok("d", 3)
    check = 97 - int(body) % 97
    return (f"{body[:2]}.{body[2:4]}.{body[4:6]}-{body[6:]}.{check:02d}",
            f"{body[:2]}.{body[2:4]}.{body[4:6]}-{body[6:]}.{(check % 97) + 1:02d}")  # fmt: skip


def gen_pt_nif(r: Rand) -> tuple[str, str]:
    d = r.r.choice("1235") + r.tok("d", 7)
    rem = _wsum(d, range(9, 1, -1)) % 11
    good = d + str(0 if rem < 2 else 11 - rem)
    return good, _bump(good)


def gen_ie_pps(r: Rand) -> tuple[str, str]:
    d = r.tok("d", 7)
    table = "WABCDEFGHIJKLMNOPQRSTUV"
    k = _wsum(d, range(8, 1, -1)) % 23
    return d + table[k], d + table[(k + 1) % 23]


def gen_nz_ird(r: Rand) -> tuple[str, str]:
    while True:
        d = f"{r.r.randint(10_000_000, 14_999_999):08d}"
        padded = d.rjust(8, "0")
        rem = _wsum(padded, [3, 2, 7, 6, 5, 4, 3, 2]) % 11
        check = 0 if rem == 0 else 11 - rem
        if check == 10:
            continue
        good = d + str(check)
        return f"{good[:3]}-{good[3:6]}-{good[6:]}", f"{good[:3]}-{good[3:6]}-{_bump(good)[6:]}"


def gen_hr_oib(r: Rand) -> tuple[str, str]:
    d = r.tok("d", 10)
    good = d + _mod11_10(d)
    return good, _bump(good)


def gen_bg_egn(r: Rand) -> tuple[str, str]:
    date6, *_ = _date6(r)
    d = date6 + r.tok("d", 3)
    rem = _wsum(d, [2, 4, 8, 5, 10, 9, 7, 3, 6]) % 11
    good = d + str(0 if rem == 10 else rem)
    return good, _bump(good)


def gen_us_ein(r: Rand) -> tuple[str, str]:
    good = f"{r.r.choice([12, 20, 35, 46, 52, 81, 94])}-{r.tok('d', 7)}"
    return good, "07" + good[2:]  # 07 is not an IRS prefix


def gen_us_npi(r: Rand) -> tuple[str, str]:
    d = "1" + r.tok("d", 8)
    good = d + _luhn_digit("80840" + d)
    return good, _bump(good)


def gen_us_dea(r: Rand) -> tuple[str, str]:
    d = r.tok("d", 6)
    v = [int(c) for c in d]
    check = (v[0] + v[2] + v[4] + 2 * (v[1] + v[3] + v[5])) % 10
    head = r.r.choice("ABFM") + r.tok("A", 1)
    return f"{head}{d}{check}", f"{head}{d}{(check + 1) % 10}"


def gen_fr_siren(r: Rand) -> tuple[str, str]:
    d = r.tok("d", 8)
    good = d + _luhn_digit(d)
    return f"{good[:3]} {good[3:6]} {good[6:]}", f"{good[:3]} {good[3:6]} {_bump(good)[6:]}"


def gen_uk_passport(r: Rand) -> tuple[str, str]:
    return "5" + r.tok("d", 8), "111111111"


def gen_bank_account(r: Rand) -> tuple[str, str]:
    return r.tok("d", 12), "000000000000"


def gen_dl(r: Rand) -> tuple[str, str]:
    return r.tok("A", 1) + r.tok("d", 7), "D0000000"


def gen_cvv(r: Rand) -> tuple[str, str]:
    return r.tok("d", 3).replace("0", "7"), "000"


def gen_btc(r: Rand) -> tuple[str, str]:
    payload = b"\x00" + bytes(r.r.getrandbits(8) for _ in range(20))
    raw = payload + hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
    n = int.from_bytes(raw, "big")
    alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    out = ""
    while n:
        n, rem = divmod(n, 58)
        out = alphabet[rem] + out
    good = "1" * (len(raw) - len(raw.lstrip(b"\x00"))) + out
    bad = good[:-1] + ("2" if good[-1] != "2" else "3")
    return good, bad


def gen_eth(r: Rand) -> tuple[str, str]:
    from detectors.dlp.checks import keccak256  # the hash only; the rule is applied here

    body = r.tok("x", 40)
    digest = keccak256(body.encode()).hex()
    good = "".join(c.upper() if c.isalpha() and int(h, 16) >= 8 else c
                   for c, h in zip(body, digest[:40], strict=True))  # fmt: skip
    flip = next(i for i, c in enumerate(good) if c.isalpha())
    bad = good[:flip] + good[flip].swapcase() + good[flip + 1 :]
    return "0x" + good, "0x" + bad


def gen_e164(r: Rand) -> tuple[str, str]:
    """E.164: + country code and subscriber number, no separators (UK London here); the
    near miss is a North American number with an exchange starting 0 (not in the plan)."""
    return "+4420" + r.tok("d", 8), "+1415" + "0" + r.tok("d", 6)


def gen_visa(r: Rand) -> tuple[str, str]:
    d = "4" + r.tok("d", 14)
    good = d + _luhn_digit(d)
    return " ".join(good[i : i + 4] for i in range(0, 16, 4)), " ".join(
        _bump(good)[i : i + 4] for i in range(0, 16, 4)
    )


# entry id -> (generator, line template, needs context: the bare value is a negative)
IDS: dict[str, tuple[IdGen, str, bool]] = {
    "us_bank_account": (gen_bank_account, "Bank account number: {v}\n", True),
    "mx_clabe": (gen_mx_clabe, "CLABE: {v}\n", True),
    "card_cvv": (gen_cvv, "Card exp 04/29, CVV: {v}\n", True),
    "bitcoin_address": (gen_btc, "Send BTC to {v}\n", True),
    "ethereum_address": (gen_eth, "ETH wallet: {v}\n", True),
    "us_ein": (gen_us_ein, "EIN: {v}\n", True),
    "us_npi": (gen_us_npi, "NPI: {v}\n", True),
    "us_dea": (gen_us_dea, "DEA number: {v}\n", True),
    "us_drivers_license": (gen_dl, "Driver's license: {v}\n", True),
    "es_dni": (gen_es_dni, "DNI: {v}\n", True),
    "es_nie": (gen_es_nie, "NIE: {v}\n", True),
    "it_codice_fiscale": (gen_it_cf, "Codice fiscale {v}\n", False),
    "de_tax_id": (gen_de_tax, "Steuer-ID: {v}\n", True),
    "fr_nir": (gen_fr_nir, "Numéro de sécurité sociale : {v}\n", True),
    "fr_siren": (gen_fr_siren, "SIREN {v}\n", True),
    "nl_bsn": (gen_nl_bsn, "BSN: {v}\n", True),
    "be_national_number": (gen_be_nn, "Rijksregisternummer: {v}\n", True),
    "pl_pesel": (gen_pl_pesel, "PESEL: {v}\n", True),
    "se_personnummer": (gen_se_pnr, "Personnummer: {v}\n", True),
    "fi_hetu": (gen_fi_hetu, "Henkilötunnus: {v}\n", True),
    "dk_cpr": (gen_dk_cpr, "CPR-nr: {v}\n", True),
    "no_fodselsnummer": (gen_no_fnr, "Fødselsnummer: {v}\n", True),
    "pt_nif": (gen_pt_nif, "NIF: {v}\n", True),
    "ie_pps": (gen_ie_pps, "PPS number: {v}\n", True),
    "hr_oib": (gen_hr_oib, "OIB: {v}\n", True),
    "bg_egn": (gen_bg_egn, "EGN: {v}\n", True),
    "uk_passport": (gen_uk_passport, "UK passport number: {v}\n", True),
    "in_aadhaar": (gen_aadhaar, "Aadhaar: {v}\n", True),
    "in_pan": (gen_in_pan, "PAN: {v}\n", True),
    "sg_nric": (gen_sg_nric, "NRIC {v}\n", False),
    "au_medicare": (gen_au_medicare, "Medicare card: {v}\n", True),
    "au_abn": (gen_au_abn, "ABN: {v}\n", True),
    "au_acn": (gen_au_acn, "ACN: {v}\n", True),
    "nz_ird": (gen_nz_ird, "IRD number: {v}\n", True),
    "hk_hkid": (gen_hkid, "HKID {v}\n", False),
    "tw_national_id": (gen_tw_id, "National ID: {v}\n", True),
    "kr_rrn": (gen_kr_rrn, "RRN: {v}\n", True),
    "cn_resident_id": (gen_cn_rid, "ID {v}\n", False),
    "jp_my_number": (gen_jp_my_number, "My Number: {v}\n", True),
    "th_national_id": (gen_th_id, "Thai ID: {v}\n", True),
    "br_cpf": (gen_br_cpf, "CPF: {v}\n", True),
    "br_cnpj": (gen_br_cnpj, "CNPJ {v}\n", False),
    "cl_rut": (gen_cl_rut, "RUT: {v}\n", True),
    "za_id": (gen_za_id, "ID number: {v}\n", True),
    "intl_phone": (gen_e164, "Call me on {v} tomorrow\n", False),
}

# Format variants asserted by name (each one also a positive of its entry in the corpus).
VARIANTS: dict[str, list[tuple[str, Callable[[Rand], str]]]] = {
    "slack_token": [
        ("app-level xapp-", lambda r: f"xapp-1-A{r.tok('U', 10)}-{r.tok('d', 13)}-{r.tok('x', 64)}"),
        ("config xoxe.xoxp-", lambda r: f"xoxe.xoxp-1-{r.tok('n', 140)}"),
        ("refresh xoxe-", lambda r: f"xoxe-1-{r.tok('n', 140)}"),
    ],
    "slack_webhook": [
        ("http scheme", lambda r: f"http://hooks.slack.com/services/T{r.tok('U', 9)}/B{r.tok('U', 9)}/{r.tok('n', 24)}"),
        ("workflow with numeric segment", lambda r: f"https://hooks.slack.com/workflows/T{r.tok('U', 9)}/A{r.tok('U', 10)}/{r.tok('d', 18)}/{r.tok('n', 24)}"),
        ("triggers URL", lambda r: f"https://hooks.slack.com/triggers/T{r.tok('U', 9)}/{r.tok('d', 13)}/{r.tok('x', 32)}"),
    ],
    "azure_client_secret": [
        ("leading dot", lambda r: f".{r.tok('n', 2)}8Q~{r.tok('u', 34)}"),
        ("leading tilde", lambda r: f"~{r.tok('n', 2)}8Q~{r.tok('u', 34)}"),
    ],
    "jwt": [
        ("unsigned alg none", lambda r: jwt_token(r, "none")),
        ("two-part", lambda r: jwt_token(r, "none")[:-1]),
    ],
    "pypi_token": [("TestPyPI", lambda r: macaroon(r, "test.pypi.org"))],
    "discord_bot_token": [
        (f"{n}-digit user id", lambda r, n=n: discord_bot_token(r, n)) for n in (17, 18, 19, 20)
    ],
    "asana_pat": [("v2 lead 2/", lambda r: f"2/{r.tok('d', 16)}:{r.tok('x', 32)}")],
    "iban": [("dashes", lambda r: _dashed(_iban_de(r)))],
    "us_ssn": [("dots", lambda r: "536.22.7789")],
    "us_aba_routing": [("4-4-1", lambda r: "0210-0002-1")],
    "uk_nino": [("lower case", lambda r: "jg 10 37 59 a")],
}  # fmt: skip


def _dashed(iban: str) -> str:
    return "-".join(iban[i : i + 4] for i in range(0, len(iban), 4))


def _iban_de(r: Rand) -> str:
    bban = "37040044" + r.tok("d", 10)
    num = int("".join(str(int(c, 36)) for c in bban + "DE00"))
    return f"DE{98 - num % 97:02d}{bban}"


VARIANT_LINES = {
    "slack_token": "SLACK_TOKEN={v}\n",
    "slack_webhook": "url: {v}\n",
    "azure_client_secret": "AUTH_CLIENTSECRET={v}\n",
    "jwt": "Authorization: Bearer {v}\n",
    "pypi_token": "password = {v}\n",
    "discord_bot_token": "DISCORD_BOT_TOKEN={v}\n",
    "asana_pat": "ASANA_TOKEN={v}\n",
    "iban": "IBAN {v}\n",
    "us_ssn": "SSN: {v}\n",
    "us_aba_routing": "ABA routing: {v}\n",
    "uk_nino": "NI number: {v}\n",
}


def _credential_cases(r: Rand, eid: str) -> Cases:
    line, value_spec, opts = CRED[eid]
    cases = Cases()
    derive = opts.get("derive")
    for _ in range(2):
        value = value_spec(r) if callable(value_spec) else r.render(value_spec)
        if callable(derive):
            value = derive(value)
        cases.positives.append((line.replace("{v}", value), value))
    if opts.get("auto", True) and not callable(value_spec):
        cases.negatives.append(line.replace("{v}", r.render(value_spec, shrink=True)))
        cases.negatives.append(line.replace("{v}", r.render(value_spec, fill="x")))
    elif callable(value_spec) and opts.get("auto", True):
        value = value_spec(r)
        cases.negatives.append(line.replace("{v}", value[:-1] + ("A" if value[-1] != "A" else "B")))
    if opts.get("ctx"):
        value = value_spec(r) if callable(value_spec) else r.render(value_spec)
        cases.negatives.append(f"stored value {value} in a table\n")
    for neg in opts.get("neg", []):  # type: ignore[attr-defined]
        cases.negatives.append(r.render(neg) if "{" in neg and "}" in neg else neg)
    return cases


def _identifier_cases(r: Rand, eid: str) -> Cases:
    gen, line, ctx = IDS[eid]
    cases = Cases()
    for _ in range(2):
        good, bad = gen(r)
        cases.positives.append((line.replace("{v}", good), good))
        cases.negatives.append(line.replace("{v}", bad))
    if ctx:
        good, _ = gen(r)
        cases.negatives.append(f"reference {good} in a table\n")
    return cases


NEGATIVE_SPACER = "\n" + "." * 500 + "\n"  # keeps each negative out of the others' windows


def catalog_cases(r: Rand) -> dict[str, Cases]:
    """Cases of every entry in the credential formats and identifier generators above."""
    out: dict[str, Cases] = {}
    for eid in CRED:
        out[eid] = _credential_cases(r, eid)
    for eid in IDS:
        out[eid] = _identifier_cases(r, eid)
    return out


def build_corpus(seed: int = 7) -> dict[str, Cases]:
    """Every predefined entry's cases: the hand-written samples of the original entries,
    the credential formats, the identifier generators, and the named format variants."""
    from tests.unit.dlp.samples import Gen, entry_samples

    r = Rand(seed)
    out: dict[str, Cases] = {}
    for eid, (text, value, miss) in entry_samples(Gen(seed)).items():
        out[eid] = Cases([(text, value)], [m for m in miss.split(NEGATIVE_SPACER) if m])
    out.update(catalog_cases(r))
    for eid, variants in VARIANTS.items():
        for _, make in variants:
            value = make(r)
            out[eid].positives.append((VARIANT_LINES[eid].replace("{v}", value), value))
    return out
