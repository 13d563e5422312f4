# CounterAnimal Explorer: the dashboard on port 8501 and the engine, on the GPU when the container gets one
# (docker run --gpus all ...; PyPI's torch wheels carry their CUDA libraries). Everything that grows lives under the
# /data volume: runs, uploads, jobs, the image and text-embedding cache, and the torch and Hugging Face caches.
FROM python:3.11-slim-bookworm

# Chromium renders static chart exports (kaleido drives it); tini is PID 1, forwarding signals and reaping the job
# worker's evaluation and decoding processes. Debian's security updates replace exact versions, so none is pinned.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends chromium tini \
    && rm -rf /var/lib/apt/lists/*

ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    COUNTERANIMAL_RESULTS=/data/results \
    COUNTERANIMAL_DATA=/data/data \
    COUNTERANIMAL_ALLOWED_ROOTS=/data \
    COUNTERANIMAL_CACHE=/data/cache \
    HF_HOME=/data/cache/huggingface \
    TORCH_HOME=/data/cache/torch

# The torch pair the project is tested with (the Makefile's TORCH); PyPI's Linux wheels carry their CUDA libraries.
ARG TORCH="torch==2.14.1 torchvision==0.29.1"

WORKDIR /opt/counteranimal
# Dependencies first, read from pyproject.toml alone: a change to the code does not reinstall torch.
COPY pyproject.toml ./
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
print('\n'.join(p['dependencies'] + p['optional-dependencies']['engine']))" > requirements.txt \
    && printf '%s\n' ${TORCH} > constraints.txt \
    && pip install --no-cache-dir --requirement requirements.txt --constraint constraints.txt

COPY README.md ./
COPY results/paper results/paper
COPY engine engine
COPY app app
RUN pip install --no-cache-dir --no-deps .

RUN useradd --create-home --uid 1000 explorer && mkdir -p /data && chown 1000:1000 /data
USER 1000
VOLUME ["/data"]
EXPOSE 8501

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4)"]

ENTRYPOINT ["tini", "--"]
CMD ["counteranimal", "serve", "--host", "0.0.0.0", "--port", "8501"]
