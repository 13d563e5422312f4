# CounterAnimal Explorer on a CUDA PyTorch base: the dashboard on port 8501, and the engine on the GPU when the
# container gets one (docker run --gpus all ...). The base image's torch satisfies the engine's range, so pip keeps it.
ARG BASE=pytorch/pytorch:2.8.0-cuda12.9-cudnn9-runtime
FROM ${BASE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    COUNTERANIMAL_RESULTS=/data/results \
    COUNTERANIMAL_DATA=/data/data \
    COUNTERANIMAL_ALLOWED_ROOTS=/data \
    HF_HOME=/data/hf-cache

WORKDIR /opt/counteranimal
COPY pyproject.toml README.md ./
COPY engine engine
COPY app app
COPY results/paper results/paper
COPY .streamlit .streamlit
RUN pip install ".[engine]"

RUN useradd --create-home --uid 1000 explorer && mkdir -p /data && chown explorer /data
USER explorer
VOLUME ["/data"]
EXPOSE 8501

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4)"

# Started from the project folder, so Streamlit reads its .streamlit/config.toml (the upload limit).
CMD ["counteranimal", "serve", "--host", "0.0.0.0", "--port", "8501"]
