module monctl.tools/goreleaser

go 1.26.8
