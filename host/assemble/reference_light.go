package assemble

// refLightModules are the blocks of the reference's light backbones
// (lightModels/*.yaml).
var refLightModules = map[string]refLayer{}
