# Multi-stage build of the portcullis binary; the runtime image is distroless, non-root, with
# no shell. Build: docker build -t portcullis .
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p portcullis-controller --bin portcullis \
 && cp target/release/portcullis /portcullis

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /portcullis /usr/local/bin/portcullis
USER 65532:65532
EXPOSE 8080 8443 10254
ENTRYPOINT ["/usr/local/bin/portcullis"]
CMD ["ingress"]
