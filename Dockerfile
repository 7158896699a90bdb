# berth's container image: the statically linked binary, CA certificates
# and a non-root user, FROM scratch. `make image` builds it; the binary is
# built on the host (CGO_ENABLED=0, SQLite is pure Go) into build/image/,
# which is the build context, so no base image is ever pulled.
FROM scratch
ARG VERSION=dev
ARG REVISION=unknown
ARG LICENSES=NOASSERTION
LABEL org.opencontainers.image.title="berth" \
      org.opencontainers.image.description="OCI container and artifact registry with a GraphQL API and a web portal" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="https://github.com/berth-registry/berth" \
      org.opencontainers.image.url="https://github.com/berth-registry/berth" \
      org.opencontainers.image.licenses="${LICENSES}"
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY passwd group /etc/
COPY --chown=65532:65532 data /data
COPY tmp /tmp
COPY berth /usr/local/bin/berth
USER 65532:65532
ENV BERTH_DATA_DIR=/data BERTH_ADDR=:8080
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/berth"]
CMD ["serve"]
