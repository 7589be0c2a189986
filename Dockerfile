# The pm image for the Kubernetes flow of docs/sharding.md (split → indexed batch → merge).
# Multi-stage: the Swift toolchain builds pm; the runtime image holds only pm, its shipped
# parameters and the shared libraries it links (OpenBLAS, LAPACKE). Not built here (no Docker
# engine on the development machine); tests/ScaleOutTests checks that this file names the stages.
#   docker build -t registry.example/pm:latest .
FROM swift:6.0-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends libopenblas-dev liblapacke-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift Package.resolved* ./
RUN swift package resolve
COPY . .
# The Swift runtime is linked statically, so the runtime stage needs no toolchain.
RUN swift build -c release --product pm --static-swift-stdlib \
 && install -D "$(swift build -c release --show-bin-path)/pm" /out/bin/pm \
 && install -D -m 644 data/params/pm-params.json /out/data/params/pm-params.json

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libopenblas0 liblapacke \
 && rm -rf /var/lib/apt/lists/*
# pm finds its shipped parameters in data/params beside a parent of its own folder
# (/usr/local/bin/pm → /usr/local/data/params/pm-params.json).
COPY --from=build /out/bin/pm /usr/local/bin/pm
COPY --from=build /out/data /usr/local/data
RUN useradd --create-home --uid 10001 pm
USER pm
ENTRYPOINT ["pm"]
