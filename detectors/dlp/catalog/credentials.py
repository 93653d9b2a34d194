"""The credential catalogue: one row per credential type, as data.

Each row is ``row(id, name, regex, cls, validator, **options)``:

* ``regex`` is the vendor's published shape (prefix, alphabet, length) in the portable regex
  subset. When ``cls`` is given the body is open-ended or fixed and the builder appends a
  *consumed* terminator ``(?:[^cls]|$)`` (one engine event per token, trimmed afterwards);
  when ``cls`` is empty the regex must end on its own (``\\b``, a literal).
* ``validator`` names a stage-2 check in ``validators.VALIDATORS`` (checksums, structure,
  entropy and placeholder rejection).
* ``keywords``/``window`` only where the shape alone is ambiguous (bare hex, UUIDs, short
  alphanumerics): such entries are *keyword-led*, found by searching near their keywords.
* ``severity="low"``: reported with lower-severity evidence (test-mode keys of real accounts).
* ``value``: a Python regex with one group extracting the secret from a labelled span.
* ``ends=True``: the regex already ends in its own terminator (``_capped``), so the builder
  appends none (``cls`` still says which last byte the matcher trims).
* ``lead``: the token's class at its first byte, for rows led by a class that holds ``-``
  (bare base64url tokens). ``\\b`` does not hold before a leading ``-`` that follows ``=``, a
  space or a quote (neither side is a word byte), so such a row is written without it and
  the builder prepends a *consumed* leading byte ``(?:^|[^lead])``: a byte outside the
  class, or the start of the text, which the matcher trims (the mirror of the terminator;
  its keyword-led search looks behind instead). Identifier rows take ``cls``/``lead`` too.
* ``engine``: literal-led patterns whose union is ``regex``, compiled into Hyperscan in its
  place (a regex led by a small class, such as Discord's, would keep an automaton live on
  every byte).

Facts (prefixes, lengths, alphabets) come from each vendor's public documentation of its
token format; the patterns are written for this project.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CREDENTIAL_ROWS", "DISCORD_LEADS", "DISCORD_USER_ID", "row"]

B64URL = "A-Za-z0-9_-"
ALNUM = "A-Za-z0-9"
HEX = "a-f0-9"
B64 = "A-Za-z0-9+/"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
HOST = "A-Za-z0-9.-"  # a host name's bytes; "-" stays last


def _capped(body: str, lo: int, hi: int) -> str:
    """``[body]{lo,hi}`` ending a token, written so the engine reports one end per token
    instead of one per byte of the run: a run shorter than ``hi`` ends in a consumed
    terminator (trimmed by the matcher), a longer one at exactly ``hi`` bytes, which is the
    span the greedy repeat gave. The row says ``ends=True`` (the builder adds no terminator)."""
    stop = body[1:] if body.startswith("^") else "^" + body
    return f"(?:[{body}]{{{lo},{hi - 1}}}(?:[{stop}]|$)|[{body}]{{{hi}}})"


_HOST_TAIL = _capped(HOST, 1, 253)
UUID_ANYCASE = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"

# A Discord bot token's first segment is the unpadded base64 of the bot's user id written in
# decimal (17-20 digits). Three ASCII digits (0x30-0x39) encode to four characters, each from
# a small set: a digit's high bits 0b0011 leave the first character M, N or O (O only for 8
# and 9, whose next character is then D or T), the second one of D T j z, the third one of
# ten (the middle digit's low nibble) and the fourth one of ten (the last digit's low six
# bits). The id's length decides the tail: 17 or 20 digits end in two bytes (three
# characters), 19 in one byte (two characters), 18 in none. The unit tests derive these sets
# from base64 itself, over every digit triple, pair and single digit.
_B64_LEAD = r"(?:[MN][DTjz]|O[DT])"
_B64_DIGITS_2 = _B64_LEAD + r"[AEIMQUYcgk]"  # two digits
_B64_DIGITS_3 = _B64_DIGITS_2 + r"[w-z0-5]"  # three digits
_B64_DIGITS_1 = r"(?:[MN][AQgw]|O[AQ])"  # one digit
_DISCORD_ID_TAIL = (
    r"(?:"
    + _B64_DIGITS_2
    + r"|"
    + _B64_DIGITS_3
    + r"(?:"
    + _B64_DIGITS_1
    + r"|"
    + _B64_DIGITS_2
    + r")?)"
)
DISCORD_USER_ID = r"(?:" + _B64_DIGITS_3 + r"){5}" + _DISCORD_ID_TAIL
_DISCORD_REST = r"\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,38}"
# The engine looks for each of the ten possible first two characters as a literal (the
# class-led whole kept an automaton live on every byte: a fifth of the secrets database).
DISCORD_LEADS = (*(a + b for a in "MN" for b in "DTjz"), "OD", "OT")
_DISCORD_PARTS = tuple(
    r"\b"
    + lead
    + r"[AEIMQUYcgk][w-z0-5](?:"
    + _B64_DIGITS_3
    + r"){4}"
    + _DISCORD_ID_TAIL
    + _DISCORD_REST
    for lead in DISCORD_LEADS
)


def row(id_: str, name: str, regex: str, cls: str, validator: str, **opts: Any) -> dict[str, Any]:
    return {"id": id_, "name": name, "regex": regex, "cls": cls, "validator": validator, **opts}


def _ctx(*words: str, window: int = 64) -> dict[str, Any]:
    return {"keywords": tuple(words), "window": window}


CREDENTIAL_ROWS: tuple[dict[str, Any], ...] = (
    # -- AI platforms ---------------------------------------------------------------------
    row("openai_api_key", "OpenAI API Key",
        r"\bsk-(?:(?:proj|svcacct|admin|service|None)-)?[A-Za-z0-9_-]{8}[A-Za-z0-9_-]*",
        B64URL, "openai_key"),
    row("anthropic_api_key", "Anthropic API Key",
        r"\bsk-ant-(?:api|admin|oat|sid)[0-9]{2}-[A-Za-z0-9_-]{20}[A-Za-z0-9_-]+",
        B64URL, "token80"),
    row("huggingface_token", "Hugging Face Access Token", r"\bhf_[A-Za-z]{34}", ALNUM,
        "token20"),
    row("huggingface_org_token", "Hugging Face Organization Token", r"\bapi_org_[A-Za-z]{34}",
        ALNUM, "token20"),
    row("groq_api_key", "Groq API Key", r"\bgsk_[A-Za-z0-9]{52}", ALNUM, "token32"),
    row("perplexity_api_key", "Perplexity API Key", r"\bpplx-[A-Za-z0-9]{48}", ALNUM, "token32"),
    row("xai_api_key", "xAI API Key", r"\bxai-[A-Za-z0-9]{80}", ALNUM, "token32"),
    row("replicate_api_token", "Replicate API Token", r"\br8_[A-Za-z0-9]{37}", ALNUM, "token20"),
    row("together_api_key", "Together AI API Key", r"\btgp_v1_[A-Za-z0-9_-]{43}", B64URL,
        "token32"),
    row("openrouter_api_key", "OpenRouter API Key", r"\bsk-or-v1-[a-f0-9]{64}", ALNUM,
        "hex_key"),
    row("langsmith_api_key", "LangSmith API Key", r"\blsv2_(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10}",
        ALNUM, "token32"),
    row("langfuse_secret_key", "Langfuse Secret Key", r"\bsk-lf-" + UUID, ALNUM + "-",
        "uuid_key", value=r"sk-lf-(.+)"),
    row("pinecone_api_key", "Pinecone API Key", r"\bpcsk_[A-Za-z0-9]{5,6}_[A-Za-z0-9]{40,}",
        ALNUM, "token32"),
    row("fireworks_api_key", "Fireworks AI API Key", r"\bfw_[A-Za-z0-9]{24}", ALNUM, "token20"),
    row("cerebras_api_key", "Cerebras API Key", r"\bcsk-[a-z0-9]{48}", ALNUM, "token32"),
    row("nvidia_api_key", "NVIDIA API Key", r"\bnvapi-[A-Za-z0-9_-]{64}", B64URL, "token32"),
    row("elevenlabs_api_key", "ElevenLabs API Key", r"\bsk_[a-f0-9]{48}", ALNUM, "hex_key"),
    row("aws_bedrock_api_key", "AWS Bedrock Long-term API Key",
        r"\bABSKQmVkcm9ja0FQSUtleS[A-Za-z0-9+/]{60,}={0,2}", B64 + "=", "token32"),
    row("aws_bedrock_short_term_key", "AWS Bedrock Short-term API Key",
        r"\bbedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29t[A-Za-z0-9+/]{60,}={0,2}", B64 + "=",
        "token32"),
    row("deepseek_api_key", "DeepSeek API Key", r"\bsk-[a-f0-9]{32}\b", "", "hex_key",
        **_ctx("deepseek", "DEEPSEEK_API_KEY", window=96)),
    row("cohere_api_key", "Cohere API Key", r"\b[A-Za-z0-9]{40}\b", "", "mixed_token",
        **_ctx("cohere", "CO_API_KEY", "COHERE_API_KEY", window=96)),
    row("mistral_api_key", "Mistral AI API Key", r"\b[A-Za-z0-9]{32}\b", "", "mixed_token",
        **_ctx("mistral", "MISTRAL_API_KEY", window=96)),
    row("azure_openai_key", "Azure OpenAI API Key", r"\b[a-f0-9]{32}\b", "", "hex_key",
        **_ctx("AZURE_OPENAI_API_KEY", "azure openai", "openai.azure.com", "cognitiveservices",
               window=128)),
    row("assemblyai_api_key", "AssemblyAI API Key", r"\b[a-f0-9]{32}\b", "", "hex_key",
        **_ctx("assemblyai", "ASSEMBLYAI_API_KEY", window=96)),
    row("wandb_api_key", "Weights & Biases API Key", r"\b[a-f0-9]{40}\b", "", "hex_key",
        **_ctx("wandb", "WANDB_API_KEY", "weights and biases", window=96)),
    # -- AWS ------------------------------------------------------------------------------
    row("aws_access_key_id", "Amazon AWS Access Key ID",
        r"\b(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}\b", "", "aws_access_key",
        mask_prefix=4),
    row("aws_secret_access_key", "Amazon AWS Secret Access Key",
        r"(?i:aws[_ .-]?secret(?:[_ .-]?access)?[_ .-]?key|secret[_ ]?access[_ ]?key)"
        r"[\"']?[ \t]{0,4}(?::|=|=>|:=)[ \t]{0,4}[\"']?[A-Za-z0-9/+]{40}",
        "A-Za-z0-9/+", "aws_secret", value=r"([A-Za-z0-9/+]{40})$"),
    row("aws_session_token", "Amazon AWS Session Token",
        r"\b(?:IQoJb3JpZ2luX2Vj|FwoGZXIvYXdzE)[A-Za-z0-9/+]{100,}={0,2}", B64 + "=", "token32"),
    row("aws_mws_key", "Amazon MWS Auth Token", r"\bamzn\.mws\." + UUID + r"\b", "", "uuid_key",
        value=r"amzn\.mws\.(.+)"),
    row("aws_appsync_key", "AWS AppSync API Key", r"\bda2-[a-z0-9]{26}", ALNUM, "token20"),
    # -- Google ---------------------------------------------------------------------------
    row("gcp_api_key", "Google GCP API Key", r"\bAIza[0-9A-Za-z_-]{35}", B64URL, "token20",
        mask_prefix=4),
    row("gcp_service_account_key", "Google GCP Service Account Key",
        r"\"private_key_id\"[ \t]{0,4}:[ \t]{0,4}\"[0-9a-f]{40}\"", "", "hex_secret",
        value=r"([0-9a-f]{40})"),
    row("google_oauth_token", "Google OAuth Access Token", r"\bya29\.[0-9A-Za-z_-]{30,}",
        B64URL, "token20", mask_prefix=5),
    row("google_oauth_client_secret", "Google OAuth Client Secret", r"\bGOCSPX-[A-Za-z0-9_-]{28}",
        B64URL, "token20", mask_prefix=7),
    row("google_oauth_refresh_token", "Google OAuth Refresh Token",
        r"\b1//0[A-Za-z0-9_-]{40,}", B64URL, "token32", mask_prefix=4),
    row("firebase_fcm_server_key", "Firebase Cloud Messaging Server Key",
        r"\bAAAA[A-Za-z0-9_-]{7}:APA91b[A-Za-z0-9_-]{100,}", B64URL, "token32"),
    # -- Microsoft ------------------------------------------------------------------------
    row("azure_client_secret", "Microsoft Azure Client Secret",
        r"[A-Za-z0-9_~.-]{3}[0-9]Q~[A-Za-z0-9_~.-]{31,34}", "A-Za-z0-9_~.-", "token32"),
    row("azure_storage_account_key", "Microsoft Azure Storage Account Key",
        r"(?i:AccountKey)=[A-Za-z0-9+/]{86}==", "", "token32",
        value=r"=([A-Za-z0-9+/]{86}==)$"),
    row("azure_sas_token", "Microsoft Azure SAS Token",
        r"\bsig=[A-Za-z0-9%+/]{40,}(?:%3[Dd]|=)", "", "token32", value=r"sig=(.+)",
        **_ctx("sv=", "se=", "sp=", "srt=", "blob.core.windows.net", window=400)),
    row("azure_service_bus_key", "Microsoft Azure Service Bus / Event Hubs Key",
        r"(?i:SharedAccessKey)=[A-Za-z0-9+/]{43}=", "", "token32",
        value=r"=([A-Za-z0-9+/]{43}=)$"),
    row("azure_devops_pat", "Azure DevOps Personal Access Token", r"\b[a-z2-7]{52}\b", "",
        "token32", **_ctx("azure devops", "ado", "AZURE_DEVOPS_EXT_PAT", "dev.azure.com",
                          "visualstudio.com", window=128)),
    row("azure_function_key", "Microsoft Azure Function Key",
        r"[A-Za-z0-9_-]{54}==", "", "token32", lead=B64URL,
        **_ctx("x-functions-key", "azurewebsites.net", "code", window=128)),
    row("teams_webhook", "Microsoft Teams Incoming Webhook",
        r"https://[a-z0-9-]{1,60}\.webhook\.office\.com/webhookb2/" + UUID + "@" + UUID
        + r"/IncomingWebhook/[a-f0-9]{32}/" + UUID, "", "hex_secret", mask_prefix=30),
    # -- code hosting and CI ----------------------------------------------------------------
    row("github_pat_classic", "GitHub Personal Access Token (Classic)", r"\bghp_[A-Za-z0-9]{36}",
        ALNUM, "base62_crc32"),
    row("github_pat_fine_grained", "GitHub Fine-grained Personal Access Token",
        r"\bgithub_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}", "A-Za-z0-9_", "token32"),
    row("github_oauth_token", "GitHub OAuth Access Token", r"\bgho_[A-Za-z0-9]{36}", ALNUM,
        "base62_crc32"),
    row("github_app_token", "GitHub App Token", r"\bgh[us]_[A-Za-z0-9]{36}", ALNUM,
        "base62_crc32"),
    row("github_refresh_token", "GitHub Refresh Token", r"\bghr_[A-Za-z0-9]{36}", ALNUM,
        "base62_crc32"),
    row("gitlab_pat", "GitLab Personal Access Token", r"\bglpat-[A-Za-z0-9_.-]{20,}",
        "A-Za-z0-9_.-", "token20"),
    row("gitlab_deploy_token", "GitLab Deploy Token", r"\bgldt-[A-Za-z0-9_-]{20,}", B64URL,
        "token20"),
    row("gitlab_runner_token", "GitLab Runner Authentication Token",
        r"\bglrt-[A-Za-z0-9_.-]{20,}", "A-Za-z0-9_.-", "token20"),
    row("gitlab_runner_registration_token", "GitLab Runner Registration Token",
        r"\bGR1348941[A-Za-z0-9_-]{20,}", B64URL, "token20"),
    row("gitlab_ci_job_token", "GitLab CI/CD Job Token",
        r"\bglcbt-(?:[0-9a-fA-F]{1,5}_)?[A-Za-z0-9_-]{20,}", B64URL, "token20"),
    row("gitlab_feed_token", "GitLab Feed Token", r"\bglft-[A-Za-z0-9_-]{20,}", B64URL,
        "token20"),
    row("gitlab_scim_token", "GitLab SCIM Token", r"\bglsoat-[A-Za-z0-9_-]{20,}", B64URL,
        "token20"),
    row("gitlab_incoming_mail_token", "GitLab Incoming Mail Token",
        r"\bglimt-[A-Za-z0-9_-]{25,}", B64URL, "token20"),
    row("gitlab_pipeline_trigger_token", "GitLab Pipeline Trigger Token",
        r"\bglptt-[A-Za-z0-9_-]{40,}", B64URL, "token20", som=False),
    row("gitlab_agent_token", "GitLab Kubernetes Agent Token", r"\bglagent-[A-Za-z0-9_-]{50,}",
        B64URL, "token32", som=False),
    row("gitlab_oauth_app_secret", "GitLab OAuth Application Secret",
        r"\bgloas-[A-Za-z0-9_-]{64,}", B64URL, "token32", som=False),
    row("gitlab_feature_flag_token", "GitLab Feature Flags Client Token",
        r"\bglffct-[A-Za-z0-9_-]{20,}", B64URL, "token20"),
    row("bitbucket_app_password", "Bitbucket App Password", r"\bATBB[A-Za-z0-9]{32}[A-F0-9]{8}",
        ALNUM, "token32"),
    row("atlassian_api_token", "Atlassian API Token (Jira, Confluence)",
        r"\bATATT3[A-Za-z0-9_=-]{180,}", "A-Za-z0-9_=-", "token32", som=False),
    row("circleci_token", "CircleCI Personal API Token",
        r"\bCCIPAT_[A-Za-z0-9]{22}_[a-f0-9]{40}", ALNUM + "_", "token32"),
    row("buildkite_token", "Buildkite API Token", r"\bbkua_[a-f0-9]{40}", ALNUM, "hex_key"),
    row("sonarqube_token", "SonarQube Token", r"\bsq[pua]_[a-f0-9]{40}", ALNUM, "hex_key"),
    row("octopus_deploy_key", "Octopus Deploy API Key", r"\bAPI-[A-Z0-9]{26}", ALNUM, "token20"),
    row("harness_pat", "Harness Access Token",
        r"\b(?:pat|sat)\.[A-Za-z0-9_-]{22}\.[a-f0-9]{24}\.[A-Za-z0-9]{20}", ALNUM, "token32"),
    row("travis_ci_token", "Travis CI API Token", r"[A-Za-z0-9_-]{22}", B64URL, "mixed_token",
        lead=B64URL, **_ctx("travis", "TRAVIS_API_TOKEN", window=64)),
    # -- infrastructure, hosting, secrets managers ------------------------------------------
    row("terraform_cloud_token", "Terraform Cloud / Enterprise API Token",
        r"\b[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=-]{60,}", "A-Za-z0-9_=-", "token32"),
    row("pulumi_access_token", "Pulumi Access Token", r"\bpul-[a-f0-9]{40}", ALNUM, "hex_key"),
    row("doppler_token", "Doppler Token",
        r"\bdp\.(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9]{40,44}", ALNUM, "token32"),
    row("vault_service_token", "HashiCorp Vault Service Token", r"\bhvs\.[A-Za-z0-9_-]{90,}",
        B64URL, "token32"),
    row("vault_batch_token", "HashiCorp Vault Batch Token", r"\bhvb\.[A-Za-z0-9_-]{138,}",
        B64URL, "token32"),
    row("vault_legacy_token", "HashiCorp Vault Token (legacy)", r"\bs\.[A-Za-z0-9]{24}\b", "",
        "mixed_token", **_ctx("vault", "VAULT_TOKEN", "X-Vault-Token", window=64)),
    row("onepassword_service_account", "1Password Service Account Token",
        r"\bops_eyJ[A-Za-z0-9+/=_-]{200,}", "A-Za-z0-9+/=_-", "token32", som=False),
    row("onepassword_secret_key", "1Password Secret Key",
        r"\bA3-[A-Z0-9]{6}-(?:[A-Z0-9]{6}|[A-Z0-9]{5}-[A-Z0-9]{6})-[A-Z0-9]{5}-[A-Z0-9]{5}"
        r"-[A-Z0-9]{5}-[A-Z0-9]{5}\b", "", "token20"),
    row("docker_hub_pat", "Docker Hub Personal Access Token", r"\bdckr_pat_[A-Za-z0-9_-]{27}",
        B64URL, "token20"),
    row("docker_hub_oat", "Docker Hub Organization Access Token",
        r"\bdckr_oat_[A-Za-z0-9_-]{32}", B64URL, "token20"),
    row("k8s_service_account_token", "Kubernetes Service Account Token",
        r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}(?:\.[A-Za-z0-9_-]*)?", B64URL,
        "k8s_sa_jwt", mask_prefix=8),
    row("kubeconfig_client_key", "Kubeconfig Client Key Data",
        r"client-key-data:[ \t]{0,4}[\"']?LS0tLS1CRUdJTi[A-Za-z0-9+/]{40,}={0,2}", B64 + "=",
        "token32", value=r"(LS0tLS1CRUdJTi.+)$"),
    row("heroku_api_key", "Heroku API Key", r"\bHRKU-AA[A-Za-z0-9_-]{58}", B64URL, "token32"),
    row("heroku_api_key_legacy", "Heroku API Key (legacy UUID)", r"\b" + UUID + r"\b", "",
        "uuid_key", **_ctx("heroku", "HEROKU_API_KEY", window=96)),
    row("fly_access_token", "Fly.io Access Token",
        r"\bFlyV1 fm[12][_a-z]{0,2}_[A-Za-z0-9+/=_-]{100,}", "A-Za-z0-9+/=_-", "token32",
        mask_prefix=6),
    row("fly_org_token", "Fly.io Organization Token", r"\bfo1_[A-Za-z0-9_-]{43}", B64URL,
        "token32"),
    row("vercel_token", "Vercel Access Token", r"\b[A-Za-z0-9]{24}\b", "", "mixed_token",
        **_ctx("vercel", "VERCEL_TOKEN", window=64)),
    row("netlify_token", "Netlify Personal Access Token", r"\bnfp_[A-Za-z0-9]{36}", ALNUM,
        "token20"),
    row("digitalocean_pat", "DigitalOcean Personal Access Token", r"\bdop_v1_[a-f0-9]{64}",
        ALNUM, "hex_key"),
    row("digitalocean_oauth_token", "DigitalOcean OAuth Token", r"\bdoo_v1_[a-f0-9]{64}", ALNUM,
        "hex_key"),
    row("digitalocean_refresh_token", "DigitalOcean Refresh Token", r"\bdor_v1_[a-f0-9]{64}",
        ALNUM, "hex_key"),
    row("cloudflare_user_api_key", "Cloudflare User API Key", r"\bcfk_[A-Za-z0-9]{40}[a-f0-9]{8}",
        ALNUM, "cloudflare_token"),
    row("cloudflare_user_api_token", "Cloudflare User API Token",
        r"\bcfut_[A-Za-z0-9]{40}[a-f0-9]{8}", ALNUM, "cloudflare_token"),
    row("cloudflare_account_api_token", "Cloudflare Account Owned API Token",
        r"\bcfat_[A-Za-z0-9]{40}[a-f0-9]{8}", ALNUM, "cloudflare_token"),
    row("cloudflare_global_api_key", "Cloudflare Global API Key (legacy)", r"\b[a-f0-9]{37}\b",
        "", "hex_key", **_ctx("cloudflare", "CF_API_KEY", "X-Auth-Key", window=96)),
    row("cloudflare_api_token_legacy", "Cloudflare API Token (legacy)",
        r"[A-Za-z0-9_-]{40}", B64URL, "mixed_token", lead=B64URL,
        **_ctx("cloudflare", "CF_API_TOKEN", "CLOUDFLARE_API_TOKEN", window=96)),
    row("cloudflare_origin_ca_key", "Cloudflare Origin CA Key",
        r"\bv1\.0-[a-f0-9]{24}-[a-f0-9]{146}", ALNUM, "hex_key"),
    row("render_api_key", "Render API Key", r"\brnd_[A-Za-z0-9]{32}", ALNUM, "token20"),
    row("supabase_access_token", "Supabase Personal Access Token", r"\bsbp_[a-f0-9]{40}", ALNUM,
        "hex_key"),
    row("supabase_secret_key", "Supabase Secret API Key", r"\bsb_secret_[A-Za-z0-9_-]{31,}",
        B64URL, "token20"),
    row("planetscale_token", "PlanetScale Token",
        r"\bpscale_(?:tkn|pw|oauth)_[A-Za-z0-9_.=-]{32,64}", "A-Za-z0-9_.=-", "token32"),
    row("neon_api_key", "Neon API Key", r"\bnapi_[a-z0-9]{64}", ALNUM, "token32"),
    row("databricks_token", "Databricks Personal Access Token", r"\bdapi[a-f0-9]{32}(?:-[0-9])?",
        ALNUM, "hex_key", mask_prefix=4),
    row("databricks_oauth_secret", "Databricks OAuth Secret", r"\bdose[a-f0-9]{32}", ALNUM,
        "hex_key", mask_prefix=4),
    row("tailscale_key", "Tailscale Key",
        r"\btskey-(?:api|auth|client|webhook|scim)-[A-Za-z0-9]{8,}-[A-Za-z0-9]{24,}", ALNUM,
        "token32"),
    row("ngrok_token", "ngrok Authtoken", r"\b2[A-Za-z0-9]{26}_[A-Za-z0-9]{17,21}\b", "",
        "mixed_token", **_ctx("ngrok", "NGROK_AUTHTOKEN", "authtoken", window=64)),
    row("scaleway_secret_key", "Scaleway Secret Key", r"\b" + UUID + r"\b", "", "uuid_key",
        **_ctx("scaleway", "SCW_SECRET_KEY", window=96)),
    row("linode_token", "Linode / Akamai Cloud API Token", r"\b[a-f0-9]{64}\b", "", "hex_key",
        **_ctx("linode", "LINODE_TOKEN", "LINODE_CLI_TOKEN", window=96)),
    row("hetzner_token", "Hetzner Cloud API Token", r"\b[A-Za-z0-9]{64}\b", "", "mixed_token",
        **_ctx("hetzner", "HCLOUD_TOKEN", window=96)),
    row("alibaba_access_key_id", "Alibaba Cloud AccessKey ID", r"\bLTAI[A-Za-z0-9]{12,20}\b", "",
        "token16", mask_prefix=4),
    row("tencent_secret_id", "Tencent Cloud SecretId", r"\bAKID[A-Za-z0-9]{32}\b", "",
        "token20", mask_prefix=4),
    row("ibm_cloud_api_key", "IBM Cloud API Key", r"[A-Za-z0-9_-]{44}", B64URL, "mixed_token",
        lead=B64URL, **_ctx("ibm", "IBMCLOUD_API_KEY", "IC_API_KEY", "bluemix", window=96)),
    row("yandex_api_key", "Yandex Cloud API Key", r"\bAQVN[A-Za-z0-9_-]{35,38}", B64URL,
        "token20"),
    row("yandex_iam_token", "Yandex Cloud IAM Token", r"\bt1\.[A-Z0-9a-z_-]{80,}={0,2}",
        "A-Za-z0-9_=-", "token32"),
    row("snyk_token", "Snyk API Token", r"\b" + UUID + r"\b", "", "uuid_key",
        **_ctx("snyk", "SNYK_TOKEN", window=64)),
    row("infracost_api_key", "Infracost API Key", r"\bico-[A-Za-z0-9]{32}", ALNUM, "token20"),
    row("prefect_api_key", "Prefect API Key", r"\bpnu_[A-Za-z0-9]{36}", ALNUM, "token20"),
    row("artifactory_api_key", "JFrog Artifactory API Key", r"\bAKCp[A-Za-z0-9]{69}", ALNUM,
        "token32"),
    row("artifactory_reference_token", "JFrog Artifactory Reference Token",
        r"\bcmVmdGtu[A-Za-z0-9]{56}", ALNUM, "token32"),
    row("okta_api_token", "Okta API Token", r"\b00[A-Za-z0-9_-]{40}", B64URL, "mixed_token",
        **_ctx("okta", "SSWS", "OKTA_API_TOKEN", "okta.com", window=96)),
    row("auth0_client_secret", "Auth0 Client Secret", r"[A-Za-z0-9_-]{64}", B64URL,
        "mixed_token", lead=B64URL, **_ctx("auth0", "AUTH0_CLIENT_SECRET", window=96)),
    # -- package registries -----------------------------------------------------------------
    row("npm_token", "NPM Token", r"\bnpm_[A-Za-z0-9]{36}", ALNUM, "base62_crc32"),
    row("npm_legacy_auth_token", "NPM Legacy Auth Token (.npmrc)",
        r"_authToken=[\"']?" + UUID, "", "uuid_key", value=r"(" + UUID + r")"),
    row("pypi_token", "PyPI Token",
        r"\bpypi-AgE(?:IcHlwaS5vcmc|NdGVzdC5weXBpLm9yZw)[A-Za-z0-9_-]{50,}", B64URL,
        "pypi_macaroon", mask_prefix=5),
    row("rubygems_api_key", "RubyGems API Key", r"\brubygems_[a-f0-9]{48}", ALNUM, "hex_key"),
    row("nuget_api_key", "NuGet API Key", r"\boy2[a-z0-9]{43}", ALNUM, "token32"),
    row("clojars_token", "Clojars Deploy Token", r"\bCLOJARS_[a-z0-9]{60}", ALNUM, "token32"),
    row("crates_io_token", "crates.io API Token", r"\bcio[A-Za-z0-9]{32}\b", "", "mixed_token"),
    row("postman_api_key", "Postman API Key", r"\bPMAK-[a-f0-9]{24}-[a-f0-9]{34}", ALNUM,
        "hex_secret"),
    row("readme_api_key", "ReadMe API Key", r"\brdme_[a-z0-9]{70}", ALNUM, "token32"),
    # -- communication ------------------------------------------------------------------------
    row("slack_token", "Slack API Token",
        r"\b(?:xox(?:[abposre]|e\.xox[abp])|xapp)-[A-Za-z0-9-]{10,}", "A-Za-z0-9-", "token20"),
    row("slack_webhook", "Slack Webhook",
        r"https?://hooks\.slack\.com/(?:services|workflows|triggers)/T[A-Za-z0-9_]{8,12}"
        r"/(?:[AB][A-Za-z0-9_]{8,12}/)?(?:[0-9]{8,20}/)?[A-Za-z0-9_]{24,32}",
        "A-Za-z0-9_", "token20", mask_prefix=33),
    row("discord_webhook", "Discord Webhook",
        r"https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/[0-9]{17,20}"
        r"/[A-Za-z0-9_-]{60,68}", B64URL, "token32", mask_prefix=33),
    row("discord_bot_token", "Discord Bot Token",
        r"\b" + DISCORD_USER_ID + _DISCORD_REST, B64URL, "token32", engine=_DISCORD_PARTS),
    row("telegram_bot_token", "Telegram Bot Token", r"\b[0-9]{8,10}:AA[A-Za-z0-9_-]{33}",
        B64URL, "token20"),
    row("twilio_api_key", "Twilio API Key", r"\bSK[0-9a-fA-F]{32}\b", "", "hex_secret",
        mask_prefix=2),
    row("twilio_auth_token", "Twilio Auth Token", r"\b[a-f0-9]{32}\b", "", "hex_key",
        **_ctx("twilio", "TWILIO_AUTH_TOKEN", "auth_token", window=96)),
    row("sendgrid_api_key", "SendGrid API Key", r"\bSG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}",
        B64URL, "token32", mask_prefix=3),
    row("mailgun_api_key", "Mailgun API Key", r"\bkey-[a-f0-9]{32}\b", "", "hex_key"),
    row("mailgun_private_key", "Mailgun Private API Key",
        r"\b[a-f0-9]{32}-[a-f0-9]{8}-[a-f0-9]{8}\b", "", "hex_key",
        **_ctx("mailgun", "MAILGUN_API_KEY", window=96)),
    row("mailchimp_api_key", "Mailchimp API Key", r"\b[a-f0-9]{32}-us[0-9]{1,2}\b", "",
        "hex_key", value=r"([a-f0-9]{32})"),
    row("mandrill_api_key", "Mandrill API Key", r"\bmd-[A-Za-z0-9_-]{22}", B64URL, "mixed_token",
        **_ctx("mandrill", "MANDRILL_API_KEY", window=96)),
    row("postmark_server_token", "Postmark Server Token", r"\b" + UUID + r"\b", "", "uuid_key",
        **_ctx("postmark", "X-Postmark-Server-Token", "POSTMARK_API_TOKEN", window=96)),
    row("brevo_api_key", "Brevo (Sendinblue) API Key",
        r"\bx(?:keysib|smtpsib)-[a-f0-9]{64}-[A-Za-z0-9]{16}", ALNUM, "token32"),
    row("mailjet_api_secret", "Mailjet API Secret", r"\b[a-f0-9]{32}\b", "", "hex_key",
        **_ctx("mailjet", "MJ_APIKEY_PRIVATE", window=96)),
    row("vonage_api_secret", "Vonage (Nexmo) API Secret", r"\b[A-Za-z0-9]{16}\b", "",
        "mixed_token", **_ctx("vonage", "nexmo", "NEXMO_API_SECRET", "VONAGE_API_SECRET",
                              window=64)),
    row("plivo_auth_token", "Plivo Auth Token", r"\b[A-Za-z0-9]{40}\b", "", "mixed_token",
        **_ctx("plivo", "PLIVO_AUTH_TOKEN", window=96)),
    row("messagebird_api_key", "MessageBird API Key", r"\b[A-Za-z0-9]{25}\b", "",
        "mixed_token", **_ctx("messagebird", "MESSAGEBIRD_API_KEY", window=96)),
    row("pusher_app_secret", "Pusher App Secret", r"\b[a-f0-9]{20}\b", "", "hex_key",
        **_ctx("pusher", "PUSHER_APP_SECRET", window=64)),
    row("ably_api_key", "Ably API Key",
        r"[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{6}:[A-Za-z0-9_-]{43}", B64URL, "token32",
        lead=B64URL, **_ctx("ably", "ABLY_API_KEY", window=96)),
    row("mattermost_token", "Mattermost Access Token", r"\b[a-z0-9]{26}\b", "", "token20",
        **_ctx("mattermost", "MM_TOKEN", window=64)),
    row("zendesk_api_token", "Zendesk API Token", r"\b[A-Za-z0-9]{40}\b", "", "mixed_token",
        **_ctx("zendesk", "ZENDESK_API_TOKEN", window=96)),
    row("intercom_access_token", "Intercom Access Token", r"\bdG9rOj[A-Za-z0-9_=-]{40,}",
        "A-Za-z0-9_=-", "token32", som=False),
    # -- productivity and SaaS ----------------------------------------------------------------
    row("linear_api_key", "Linear API Key", r"\blin_api_[A-Za-z0-9]{40}", ALNUM, "token20"),
    row("linear_oauth_token", "Linear OAuth Token", r"\blin_oauth_[a-f0-9]{64}", ALNUM,
        "hex_key"),
    row("notion_token", "Notion Integration Token",
        r"\b(?:secret_[A-Za-z0-9]{43}|ntn_[0-9]{11}[A-Za-z0-9]{35})", ALNUM, "token32"),
    row("airtable_pat", "Airtable Personal Access Token", r"\bpat[A-Za-z0-9]{14}\.[a-f0-9]{64}",
        ALNUM, "token32"),
    row("airtable_api_key", "Airtable API Key (legacy)", r"\bkey[A-Za-z0-9]{14}\b", "",
        "mixed_token", **_ctx("airtable", "AIRTABLE_API_KEY", window=96)),
    row("asana_pat", "Asana Personal Access Token", r"\b[12]/[0-9]{13,19}:[a-f0-9]{32}\b", "",
        "hex_secret", value=r":([a-f0-9]{32})$"),
    row("clickup_token", "ClickUp Personal API Token", r"\bpk_[0-9]{6,10}_[A-Z0-9]{32}", ALNUM,
        "token20"),
    row("figma_pat", "Figma Personal Access Token", r"\bfigd_[A-Za-z0-9_-]{40}", B64URL,
        "token20"),
    row("hubspot_private_app_token", "HubSpot Private App Token",
        r"\bpat-(?:na|eu)[0-9]-" + UUID, ALNUM + "-", "uuid_key", value=r"-(" + UUID + r")$"),
    row("contentful_pat", "Contentful Personal Access Token", r"\bCFPAT-[A-Za-z0-9_-]{43}",
        B64URL, "token32"),
    row("frameio_token", "Frame.io API Token", r"\bfio-u-[A-Za-z0-9_=-]{64}", "A-Za-z0-9_=-",
        "token32"),
    row("typeform_token", "Typeform Personal Access Token", r"\btfp_[A-Za-z0-9_.=-]{59}",
        "A-Za-z0-9_.=-", "token32"),
    row("dropbox_token", "Dropbox Short-lived Access Token", r"\bsl\.[A-Za-z0-9_-]{130,}",
        B64URL, "token32"),
    row("mapbox_secret_token", "Mapbox Secret Token",
        r"\bsk\.eyJ[A-Za-z0-9_-]{40,}\.[A-Za-z0-9_-]{22}", B64URL, "token32"),
    row("shopify_access_token", "Shopify Admin API Access Token", r"\bshpat_[a-fA-F0-9]{32}",
        ALNUM, "hex_secret"),
    row("shopify_custom_app_token", "Shopify Custom App Access Token",
        r"\bshpca_[a-fA-F0-9]{32}", ALNUM, "hex_secret"),
    row("shopify_private_app_token", "Shopify Private App Password",
        r"\bshppa_[a-fA-F0-9]{32}", ALNUM, "hex_secret"),
    row("shopify_shared_secret", "Shopify Shared Secret", r"\bshpss_[a-fA-F0-9]{32}", ALNUM,
        "hex_secret"),
    row("salesforce_access_token", "Salesforce Access Token",
        r"\b00D[A-Za-z0-9]{12}![A-Za-z0-9_.]{80,}", "A-Za-z0-9_.", "token32"),
    row("launchdarkly_token", "LaunchDarkly Access Token", r"\bapi-" + UUID + r"\b", "",
        "uuid_key", value=r"api-(.+)", **_ctx("launchdarkly", "LD_API_KEY", window=96)),
    row("posthog_personal_key", "PostHog Personal API Key", r"\bphx_[A-Za-z0-9]{43}", ALNUM,
        "token32"),
    row("klaviyo_private_key", "Klaviyo Private API Key", r"\bpk_[a-f0-9]{34}\b", "",
        "hex_key"),
    row("algolia_admin_key", "Algolia Admin API Key", r"\b[a-f0-9]{32}\b", "", "hex_key",
        **_ctx("algolia", "ALGOLIA_ADMIN_KEY", "ALGOLIA_API_KEY", window=96)),
    row("segment_write_key", "Segment Write Key", r"\b[A-Za-z0-9]{32}\b", "", "mixed_token",
        **_ctx("segment", "SEGMENT_WRITE_KEY", "writeKey", window=64)),
    row("mixpanel_api_secret", "Mixpanel API Secret", r"\b[a-f0-9]{32}\b", "", "hex_key",
        **_ctx("mixpanel", "MIXPANEL_API_SECRET", window=96)),
    row("amplitude_secret_key", "Amplitude Secret Key", r"\b[a-f0-9]{32}\b", "", "hex_key",
        **_ctx("amplitude", "AMPLITUDE_SECRET_KEY", window=96)),
    row("trello_token", "Trello API Token", r"\bATTA[A-Za-z0-9]{60,}", ALNUM, "token32"),
    row("zoom_client_secret", "Zoom Client Secret", r"\b[A-Za-z0-9]{32}\b", "", "mixed_token",
        **_ctx("zoom", "ZOOM_CLIENT_SECRET", window=96)),
    row("lokalise_token", "Lokalise API Token", r"\b[a-f0-9]{40}\b", "", "hex_key",
        **_ctx("lokalise", "LOKALISE_API_TOKEN", window=96)),
    row("twitter_bearer_token", "X (Twitter) Bearer Token",
        r"\bAAAAAAAAAAAAAAAAAAAAA[A-Za-z0-9%]{30,}", "A-Za-z0-9%", "token20", value=r"^A{21}(.+)$"),
    row("facebook_access_token", "Meta (Facebook) Access Token", r"\bEAA[CG][A-Za-z0-9]{90,}",
        ALNUM, "token32"),
    row("cloudinary_url", "Cloudinary URL",
        r"\bcloudinary://[0-9]{15}:[A-Za-z0-9_-]{27}@[a-z0-9-]{1,64}", "", "url_password"),
    row("shippo_token", "Shippo API Token", r"\bshippo_(?:live|test)_[a-f0-9]{40}", ALNUM,
        "hex_key"),
    row("easypost_api_key", "EasyPost API Key", r"\bEZ[AT]K[A-Za-z0-9]{54}", ALNUM, "token32"),
    row("duffel_token", "Duffel API Token", r"\bduffel_(?:test|live)_[A-Za-z0-9_=-]{43}",
        "A-Za-z0-9_=-", "token32"),
    row("scalingo_token", "Scalingo API Token", r"\btk-us-[A-Za-z0-9_-]{48}", B64URL, "token32"),
    # -- observability --------------------------------------------------------------------------
    row("datadog_api_key", "Datadog API Key", r"\b[a-f0-9]{32}\b", "", "hex_key",
        **_ctx("datadog", "DD_API_KEY", "DATADOG_API_KEY", "dd-api-key", window=96)),
    row("datadog_app_key", "Datadog Application Key", r"\b[a-f0-9]{40}\b", "", "hex_key",
        **_ctx("DD_APP_KEY", "DATADOG_APP_KEY", "dd-application-key", "application_key",
               window=96)),
    row("newrelic_user_key", "New Relic User API Key", r"\bNRAK-[A-Z0-9]{27}", ALNUM,
        "token20"),
    row("newrelic_admin_key", "New Relic Admin API Key", r"\bNRAA-[a-f0-9]{27}", ALNUM,
        "token20"),
    row("newrelic_browser_key", "New Relic Browser API Key", r"\bNRJS-[a-f0-9]{19}", ALNUM,
        "token16"),
    row("newrelic_insights_key", "New Relic Insights Insert Key",
        r"\bNRI[IQ]-[A-Za-z0-9_-]{32}", B64URL, "token20"),
    row("newrelic_license_key", "New Relic License Key", r"\b[a-f0-9]{36}NRAL\b", "",
        "hex_secret"),
    row("sentry_org_token", "Sentry Organization Auth Token", r"\bsntrys_eyJ[A-Za-z0-9+/=_-]{60,}",
        "A-Za-z0-9+/=_-", "token32", som=False),
    row("sentry_user_token", "Sentry User Auth Token", r"\bsntryu_[a-f0-9]{64}", ALNUM,
        "hex_key"),
    row("sentry_dsn", "Sentry DSN",
        r"https://[a-f0-9]{32}@o[0-9]{1,12}\.ingest(?:\.[a-z]{2})?\.sentry\.io/[0-9]{1,12}", "",
        "hex_secret", value=r"//([a-f0-9]{32})@", severity="low"),
    row("grafana_cloud_token", "Grafana Cloud API Token", r"\bglc_[A-Za-z0-9+/]{32,}={0,2}",
        B64 + "=", "token32"),
    row("grafana_service_account_token", "Grafana Service Account Token",
        r"\bglsa_[A-Za-z0-9]{32}_[a-f0-9]{8}", ALNUM, "token32"),
    row("dynatrace_token", "Dynatrace API Token", r"\bdt0c01\.[A-Z0-9]{24}\.[A-Z0-9]{64}", ALNUM,
        "token32"),
    row("splunk_hec_token", "Splunk HEC Token", r"\b" + UUID_ANYCASE + r"\b", "", "uuid_key",
        **_ctx("splunk", "HEC", "Authorization: Splunk", window=96)),
    row("honeycomb_api_key", "Honeycomb API Key", r"\bhc[ab]ik_[a-z0-9]{58}", ALNUM,
        "token32"),
    row("pagerduty_token", "PagerDuty API Token", r"\bu\+[A-Za-z0-9_+-]{18}\b", "",
        "mixed_token", **_ctx("pagerduty", "PAGERDUTY_TOKEN", window=64)),
    row("opsgenie_api_key", "Opsgenie API Key", r"\b" + UUID + r"\b", "", "uuid_key",
        **_ctx("opsgenie", "GenieKey", window=64)),
    # -- payments -------------------------------------------------------------------------------
    row("stripe_secret_key", "Stripe Standard Secret Key", r"\bsk_live_[A-Za-z0-9]{24,}", ALNUM,
        "token20"),
    row("stripe_restricted_key", "Stripe Granular Restricted Key", r"\brk_live_[A-Za-z0-9]{24,}",
        ALNUM, "token20"),
    row("stripe_test_secret_key", "Stripe Test-mode Secret Key", r"\bsk_test_[A-Za-z0-9]{24,}",
        ALNUM, "token20", severity="low"),
    row("stripe_test_restricted_key", "Stripe Test-mode Restricted Key",
        r"\brk_test_[A-Za-z0-9]{24,}", ALNUM, "token20", severity="low"),
    row("stripe_webhook_secret", "Stripe Webhook Signing Secret", r"\bwhsec_[A-Za-z0-9]{32,}",
        ALNUM, "token20"),
    row("square_access_token", "Square Access Token", r"\bEAAA[A-Za-z0-9_-]{60}", B64URL,
        "token32"),
    row("square_legacy_token", "Square Access Token (legacy)", r"\bsq0atp-[A-Za-z0-9_-]{22}",
        B64URL, "token20"),
    row("square_oauth_secret", "Square OAuth Secret", r"\bsq0csp-[A-Za-z0-9_-]{43}", B64URL,
        "token32"),
    row("braintree_access_token", "PayPal Braintree Access Token",
        r"\baccess_token\$(?:production|sandbox)\$[a-z0-9]{16}\$[a-f0-9]{32}", ALNUM,
        "hex_secret", value=r"\$([a-f0-9]{32})"),
    row("paypal_client_secret", "PayPal Client Secret", r"\bE[A-Za-z0-9_-]{79}", B64URL,
        "mixed_token", **_ctx("paypal", "PAYPAL_CLIENT_SECRET", "PAYPAL_SECRET", window=96)),
    row("plaid_access_token", "Plaid Access Token",
        r"\baccess-(?:sandbox|development|production)-" + UUID, ALNUM + "-", "uuid_key",
        value=r"(" + UUID + r")$"),
    row("razorpay_key", "Razorpay Key", r"\brzp_(?:live|test)_[A-Za-z0-9]{14}", ALNUM,
        "token16"),
    row("flutterwave_secret_key", "Flutterwave Secret Key",
        r"\bFLWSECK(?:_TEST)?-[a-f0-9]{32}-X", "", "hex_secret",
        value=r"-([a-f0-9]{32})-X"),
    row("adyen_api_key", "Adyen API Key", r"\bAQE[A-Za-z0-9_+/=-]{100,}", "A-Za-z0-9_+/=-",
        "token32", **_ctx("adyen", "X-API-Key", "ADYEN_API_KEY", window=128), som=False),
    row("coinbase_api_secret", "Coinbase API Secret", r"\b[A-Za-z0-9]{32}\b", "", "mixed_token",
        **_ctx("coinbase", "COINBASE_API_SECRET", window=96)),
    # -- private keys in every wrapping -----------------------------------------------------------
    row("private_key", "SSH / PEM / PGP Private Key",
        r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?-----"
        r"(?:[\r\n]{1,2}|\\r\\n|\\n| )(?:[A-Za-z-]+: [^\r\n]+[\r\n]{1,4}){0,4}"
        r"[A-Za-z0-9+/=]{32}", "", "private_key_block", mask="pem"),
    row("ssh2_private_key", "SSH2 (SECSH) Private Key",
        r"---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----[\r\n]{1,2}"
        r"(?:[A-Za-z-]+: [^\r\n]+[\r\n]{1,4}){0,4}[A-Za-z0-9+/=]{32}", "", "private_key_block",
        mask="pem"),
    row("putty_private_key", "PuTTY Private Key",
        r"PuTTY-User-Key-File-[23]: (?:ssh-rsa|ssh-dss|ssh-ed25519|ssh-ed448|ecdsa-sha2-nistp"
        r"(?:256|384|521))[\r\n]{1,2}(?:[A-Za-z0-9+/=: -]{1,72}[\r\n]{1,2}){1,12}"
        r"Private-Lines: [0-9]{1,3}[\r\n]{1,2}[A-Za-z0-9+/=]{32}", "", "private_key_block",
        mask="generic", som=False),
    row("private_key_base64", "Private Key (base64-wrapped PEM)",
        r"\bLS0tLS1CRUdJTi(?:BSU0Eg|BFQyBQ|BPUEVOU1NIIFBSSVZBVEUgS0VZ|BQUklWQVRFIEtF|BFTkNSWVBURUQg)"
        r"[A-Za-z0-9+/]{40,}={0,2}", B64 + "=", "token32"),
    row("age_secret_key", "age Secret Key",
        r"\bAGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}\b", "", "age_key"),
    # -- tokens, headers and connection strings -------------------------------------------------
    row("jwt", "JSON Web Token",
        r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}(?:\.[A-Za-z0-9_-]*)?", B64URL, "jwt",
        mask_prefix=8),
    row("basic_auth_header", "HTTP Basic Authorization Header",
        r"(?i:authorization)[\"']?[ \t]{0,4}[:=][ \t]{0,4}[\"']?(?i:basic) [A-Za-z0-9+/]{8,}={0,2}",
        "", "basic_auth", value=r"([A-Za-z0-9+/]{8,}={0,2})$"),
    row("bearer_token_header", "HTTP Bearer Authorization Header",
        r"(?i:authorization)[\"']?[ \t]{0,4}[:=][ \t]{0,4}[\"']?(?i:bearer) "
        r"[A-Za-z0-9_.~+/=-]{20,}",
        "A-Za-z0-9_.~+/=-", "bearer_token", value=r"(?i:bearer) (.+)$"),
    row("password_assignment", "Password Assignment",
        r"(?:^|[^;&?])(?i:password|passwd|pwd|db_pass|pass_word)[\"']?[ \t]{0,4}(?::|=|=>|:=)"
        r"[ \t]{0,4}"
        r"[\"']?[^\s\"',;]{6,}", "^\\s\"',;", "password_value",
        value=r"(?::|=|=>|:=)[ \t]*[\"']?([^\s\"',;]+)$"),
    row("url_credentials", "Credentials in URL",
        r"\b(?:https?|ftp|ftps|sftp|smtp|smtps|ldap|ldaps|git|ssh)://[A-Za-z0-9._%+-]{1,64}:"
        r"[^\s:@/\"']{3,128}@" + _HOST_TAIL, HOST, "url_password", som=False, ends=True),
    row("postgres_connection_string", "PostgreSQL Connection String",
        r"\bpostgres(?:ql)?://[A-Za-z0-9._%+-]{0,64}:[^\s:@/\"']{3,128}@" + _HOST_TAIL,
        HOST, "url_password", som=False, ends=True),
    row("mysql_connection_string", "MySQL / MariaDB Connection String",
        r"\b(?:mysql|mariadb)(?:\+[a-z0-9]{1,16})?://[A-Za-z0-9._%+-]{0,64}:[^\s:@/\"']{3,128}"
        r"@" + _HOST_TAIL, HOST, "url_password", som=False, ends=True),
    row("mongodb_connection_string", "MongoDB Connection String",
        r"\bmongodb(?:\+srv)?://[A-Za-z0-9._%+-]{0,64}:[^\s:@/\"']{3,128}@" + _HOST_TAIL,
        HOST, "url_password", som=False, ends=True),
    row("redis_connection_string", "Redis Connection String",
        r"\brediss?://[A-Za-z0-9._%+-]{0,64}:[^\s:@/\"']{3,128}@" + _HOST_TAIL,
        HOST, "url_password", som=False, ends=True),
    row("amqp_connection_string", "AMQP (RabbitMQ) Connection String",
        r"\bamqps?://[A-Za-z0-9._%+-]{0,64}:[^\s:@/\"']{3,128}@" + _HOST_TAIL,
        HOST, "url_password", som=False, ends=True),
    row("mssql_connection_string", "SQL Server / ADO.NET Connection String",
        r"(?i:(?:server|data source)=[^;\r\n]{1,128};[^\r\n]{0,200}?(?:password|pwd)=)"
        + _capped(r"^;\r\n\"'", 6, 128), r"^;\r\n\"'", "password",
        value=r"(?i:password|pwd)=([^;\r\n\"']+)$", som=False, ends=True),
    row("jdbc_connection_string", "JDBC Connection String with Password",
        r"\bjdbc:[a-z0-9]{2,16}:[^\s\"']{1,200}[;?&](?i:password)=" + _capped(r"^\s;&\"'", 6, 128),
        r"^\s;&\"'", "password", value=r"(?i:password)=([^\s;&\"']+)$", som=False, ends=True),
    row("snowflake_connection_string", "Snowflake Connection String",
        r"\bsnowflake://[A-Za-z0-9._%+-]{1,64}:[^\s:@/\"']{3,128}@"
        + _capped("A-Za-z0-9._-", 1, 253), "A-Za-z0-9._-", "url_password", som=False, ends=True),
    row("clickhouse_connection_string", "ClickHouse Connection String",
        r"\bclickhouse://[A-Za-z0-9._%+-]{0,64}:[^\s:@/\"']{3,128}@" + _HOST_TAIL,
        HOST, "url_password", som=False, ends=True),
)  # fmt: skip
