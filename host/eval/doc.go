// Package eval reproduces the reference's detection post-processing and
// validation metrics: non_max_suppression (utils/general.py), val.py's
// process_batch matching over IoU 0.50:0.05:0.95 and utils/metrics.py's
// ap_per_class/compute_ap, plus a COCO-format front end that feeds the same
// protocol from annotation and detection JSON files.
//
// The arithmetic follows the reference's types on purpose: boxes, IoUs and
// scores are float32 (as the PyTorch tensors are), curves and AP are float64
// (as the NumPy arrays are), and ties are broken the way the reference's
// sorts break them (libstdc++ std::sort under torch.sort, NumPy's quicksort
// under np.argsort), so results agree with the reference to rounding.
package eval
