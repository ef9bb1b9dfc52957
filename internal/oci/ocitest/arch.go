package ocitest

import "runtime"

// goarch is the architecture test images are made for: this host's.
const goarch = runtime.GOARCH
