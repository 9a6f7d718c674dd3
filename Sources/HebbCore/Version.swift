/// The version of this build of hebbd — the one constant every place that shows it reads: `hebbd --version`,
/// the control `status` reply (`version`) and the `hebbd_build_info{version}` metric.
package enum HebbdVersion {
    /// The release this source tree is (semantic versioning; moved by hand when a release is cut).
    package static let current = "0.1.0"
}
