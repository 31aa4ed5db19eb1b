package engine

// BiasesMovedIntoSiLU is how many Conv biases an eval plan adds in the
// SiLU after the convolution (see fuseBiasSiLU).
func (p *Plan) BiasesMovedIntoSiLU() int { return len(p.biasMovedTo) }
