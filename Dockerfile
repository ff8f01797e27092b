# distilbert (CLI + server) in a small runtime image. Build: docker build -t distilbert .   (or podman build)
# Run the server:  docker run -p 8080:8080 distilbert                       (the shipped sentiment model)
#                  docker run -p 8080:8080 -v "$PWD/my-model:/models/m:ro" distilbert serve --host 0.0.0.0 --model m=/models/m
# Batch scoring:   docker run -v "$PWD:/data" distilbert classify --model /data/model --input /data/in.tsv --json --shard 0/4

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
# Restore first, from the project files alone, so a source change does not re-download packages.
COPY global.json Directory.Build.props ./
COPY src/DistilBert/DistilBert.csproj src/DistilBert/
COPY src/DistilBert.Server/DistilBert.Server.csproj src/DistilBert.Server/
COPY src/DistilBert.Cli/DistilBert.Cli.csproj src/DistilBert.Cli/
# One runtime identifier (x64; linux-arm64 for ARM nodes): without it the publish carries SkiaSharp's natives for
# every platform, ~500 MB of them.
ARG RID=linux-x64
RUN dotnet restore src/DistilBert.Cli/DistilBert.Cli.csproj -r $RID
# The CLI embeds the tokenizer fixture and ships the sentiment teacher and SST-2 samples as its defaults.
COPY src/ src/
COPY models/sentiment-teacher/ models/sentiment-teacher/
COPY samples/sst2/ samples/sst2/
COPY tests/fixtures/golden/tokenizer/vocab.txt tests/fixtures/golden/tokenizer/vocab.txt
RUN dotnet publish src/DistilBert.Cli/DistilBert.Cli.csproj -c Release -r $RID --self-contained false --no-restore -o /app \
    && printf '#!/bin/sh\nexec /app/DistilBert.Cli "$@"\n' > /app/distilbert && chmod 755 /app/distilbert

# The ASP.NET Core runtime (the server is ASP.NET Core); the app is framework-dependent, so the image is the runtime plus ~30 MB.
FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /app
COPY --from=build /app /app
RUN ln -s /app/distilbert /usr/local/bin/distilbert
# The base image's ASPNETCORE_HTTP_PORTS=8080 would only draw a warning: `serve` binds --host/--port itself.
ENV DOTNET_CLI_TELEMETRY_OPTOUT=1 \
    ASPNETCORE_HTTP_PORTS= \
    HF_HOME=/tmp/hf-cache
# The base image's unprivileged user (uid 1654): the app and its model folders are read-only to it.
USER $APP_UID
EXPOSE 8080
# The runtime image has no curl: bash's /dev/tcp asks /health (200 while serving, 503 once shutting down).
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /health HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["distilbert"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
