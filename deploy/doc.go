// Package deploy holds the hotline's container image, compose file and Kubernetes
// manifests; its tests check them against the code they run and build the image's binary.
package deploy
