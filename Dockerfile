# The openai-casb application image: workers, beat, Flower, the CLI and the exporter.
# PYTHON_IMAGE lets a machine without registry access build from a local stand-in
# (scripts/compose-check); the default is the image this project is built on.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
FROM ${PYTHON_IMAGE}

# Set only where package downloads go through a TLS-inspecting proxy: the path of a CA bundle
# mounted into the build (scripts/compose-check does this). Build arguments reach the RUN
# steps but not the image's environment; the bundle itself is never copied in.
ARG PIP_CERT
ARG SSL_CERT_FILE

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CASB_LOG_FORMAT=json

WORKDIR /app

# Tesseract for DLP profiles with OCR on (images are skipped as ocr_unavailable without it).
RUN apt-get update \
    && apt-get install -y --no-install-recommends tesseract-ocr tesseract-ocr-eng \
    && rm -rf /var/lib/apt/lists/*

# Dependencies first, cached until pyproject.toml changes: an empty placeholder package and
# README stand in for the source (whatever its layout) while pip resolves and installs them.
COPY pyproject.toml ./
RUN mkdir -p workers \
    && touch workers/__init__.py README.md \
    && pip install . \
    && pip uninstall -y openai-casb \
    && rm -rf workers README.md build ./*.egg-info

# The C accelerators (setup.py) are compiled here and the compiler removed in the same layer;
# the image build fails if one of them did not build (the pure-Python paths are slower).
COPY . .
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && pip install --no-deps -e . \
    && python -c "import runpy, importlib; [importlib.import_module(e.name) for e in runpy.run_path('setup.py', run_name='check')['native_extensions']()]" \
    && apt-get purge -y --auto-remove gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/* build \
    && useradd --system --uid 10001 --home-dir /app casb \
    && chown -R casb /app

USER casb
EXPOSE 5555 9808 8099
CMD ["casb", "--help"]
