package engine

// ConvsWithSiLU is how many Conv nodes of an eval plan apply the SiLU
// after them (see fuseConvSiLU).
func (p *Plan) ConvsWithSiLU() int { return len(p.convSiLU) }
