package engine

// ConvsWithSiLU is how many Conv nodes of an eval plan apply the SiLU
// after them (see fuseConvSiLU).
func (p *Plan) ConvsWithSiLU() int { return len(p.convSiLU) }

// ConvsWithBatchNorm is how many Conv nodes of an eval plan fold the
// BatchNormalization after them (see fuseConvSiLU).
func (p *Plan) ConvsWithBatchNorm() int { return len(p.convBN) }
