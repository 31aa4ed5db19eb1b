package assemble

// refAccModules are the reference's accuracy modules (accModels/*.yaml,
// hub/yolov5s-transformer.yaml).
var refAccModules = map[string]refLayer{}
