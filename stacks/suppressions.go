package stacks

// suppressRegional records, with a true reason each, the cdk-nag findings the
// regional stack accepts.
func suppressRegional(r *Regional) {}

// suppressAnywhere records the cdk-nag findings an anywhere stack accepts.
func suppressAnywhere(a *Anywhere) {}
