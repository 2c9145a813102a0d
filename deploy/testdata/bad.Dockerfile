# A Dockerfile with mistakes the checks must find (deploy/image_test.go).
FROM golang:1.21 AS build
WORKDIR /src
COPY . .
RUN CGO_ENABLED=1 go build -o /out/hotline ./cmd/hotline

FROM debian:bookworm-slim
COPY --from=build /out/hotline /usr/local/bin/hotline
ENV HOTLINE_DATA_DIR=/data
USER root
EXPOSE 80
ENTRYPOINT ["/hotline"]
