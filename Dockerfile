# Multi-stage build of the portcullis binary and the portcullis-cni plugin (which the node
# agent installs on each node); the runtime image is distroless, non-root by default, with no
# shell. Build: docker build -t portcullis .
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p portcullis --bin portcullis \
    -p portcullis-cni --bin portcullis-cni \
 && cp target/release/portcullis target/release/portcullis-cni /

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /portcullis /portcullis-cni /usr/local/bin/
USER 65532:65532
EXPOSE 8080 8443 10254
ENTRYPOINT ["/usr/local/bin/portcullis"]
CMD ["ingress"]
