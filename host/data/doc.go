// Package data reads, validates, augments and batches YOLO-format detection
// datasets the way the reference (YOLOv5 v6.0: utils/datasets.py and
// utils/augmentations.py) does, and synthesises a default on-disk dataset.
//
// The pieces, in the order a training run meets them:
//
//   - LoadConfig reads a data yaml; Config.Open (or Scan) lists a split's
//     images, finds their label files (…/images/… → …/labels/…, .txt),
//     validates both and returns a Dataset with a Summary and warnings.
//   - NewLoader with TrainOptions (mosaic, random_perspective, HSV, flips,
//     mixup, from a Hyp) or ValOptions (letterbox, rectangular batches)
//     turns a Dataset into Batches: NCHW float32 RGB in [0, 1] and targets
//     (image, class, xc, yc, w, h). Loader.Epoch yields them in order while
//     worker goroutines prepare the next ones into reused buffers; resized
//     images can be kept in a RAM cache with a byte budget.
//   - Synthesize writes the default dataset: aerial-like scenes of ten shape
//     classes that differ in outline and texture, on cluttered ground with
//     roads, lines and distractor shapes, labelled with the tight boxes of
//     the visible pixels.
//
// Everything random is drawn from generators derived from explicit seeds:
// a training sample's augmentation depends only on (seed, epoch, position in
// the epoch), so batches are identical whatever the number of workers.
//
// Where this package differs from the reference, on purpose:
//
//   - A relative `path` in a data yaml is resolved against the yaml file's
//     directory (the reference uses the working directory); a missing `path`
//     means that directory. Relative lines of a .txt image list are resolved
//     against the list file's directory.
//   - A label file with a bad line, a class id out of range, coordinates
//     outside [0, 1] or a box with w or h <= 0 makes its image corrupt: the
//     pair is skipped with a warning (the reference stops training on a class
//     id >= nc and accepts w = 0). Duplicate rows are removed with a warning,
//     keeping the first occurrence in file order.
//   - A JPEG without an end-of-image marker is kept if it decodes (the
//     reference rewrites the file on disk); nothing on disk is modified.
//   - Labels of a letterboxed image follow its pixels: they are scaled by the
//     resized size and shifted by the integer padding (the reference shifts
//     by the unrounded half padding, off by half a pixel when it is odd).
//   - Images are decoded with Go's image/jpeg and image/png (chroma is
//     upsampled by replication, libjpeg uses a triangle filter, so colours
//     differ by a few levels at chroma edges). EXIF orientation is applied
//     to JPEGs as cv2.imread does. Other formats of the reference's list
//     (bmp, tif, webp, dng, mpo) are reported as unsupported.
//   - Resizing to the training size (load_image) uses area interpolation when
//     shrinking and bilinear when enlarging, as v6.0 does for validation;
//     v6.0 uses bilinear for shrinking too when augmenting. One rule for both
//     lets the RAM cache serve training and validation alike. Interpolation
//     follows OpenCV's sampling grids (half-pixel centres, cv2's area
//     weights) in float arithmetic; results may differ from cv2's fixed-point
//     code by one level.
//   - No label cache file (labels.cache) is written; scanning reads headers
//     only (or decodes fully with ScanOptions.Verify) and runs in parallel.
package data
