module github.com/yoloforge/yoloforge

go 1.26.0
