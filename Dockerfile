# syntax=docker/dockerfile:1
# Build a static catobot binary, then run it as a non-root user in a small
# image. The bot needs no inbound port for Slack (socket mode); 8080 serves
# the PagerDuty webhook, /healthz, /readyz and /metrics.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/catobot ./cmd/catobot \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/catobot /usr/local/bin/catobot
# The file ledger lives in ./data; mount a volume there to keep it across
# restarts, or point ledger.url at Valkey for several replicas.
COPY --from=build --chown=65532:65532 /out/data /var/lib/catobot/data
USER nonroot:nonroot
WORKDIR /var/lib/catobot
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/catobot"]
CMD ["serve", "--listen", ":8080"]
