# Sourced by scripts/test.sh and scripts/test-sanitizers.sh: which tests a full run runs without a
# sanitizer and which under AddressSanitizer, so that each runs once.
#
# Without a sanitizer (scripts/test.sh's suite step), `plain_only` only:
#   - the end-to-end refusal and format suites below: the paths they take in `pm` are readers and
#     argument parsers that the libFuzzer targets (built with AddressSanitizer, scripts/fuzz.sh) and
#     the argument fuzzer (run against the AddressSanitizer `pm` by scripts/test.sh) drive with far
#     more inputs;
#   - DeterminismTests, which repeats whole batches of thousands of accounts, and the kill test,
#     which repeats whole batches to kill them at chosen moments: under a sanitizer both only
#     repeat the same paths, several times slower;
#   - the smile fit's accuracy studies (synthetic chains, noisy SSVI, leave-one-out): numbers
#     in ordinary Swift arrays, the fit's code reached under AddressSanitizer by the other smile
#     suites and the smile fuzz target; a sanitizer makes them minutes.
# Under AddressSanitizer (scripts/test-sanitizers.sh): everything else — UnitTests, FaultTests and
# the end-to-end suites that reach the engine and its C kernels. A new end-to-end suite runs there.
asan_skip_e2e='CLIArgumentTrustTests|CLITrustTests|BacktestHostileTests|ReportHostileTests|ReportTrustTests|TraderHostileTests|SmileTrustTests|SmileOutlierTests|BybitTrustTests|Trust3BybitTests|BybitFormatTests|BybitImportTests|BybitReconcileTests|BybitSymbolTests|ExampleOutputTests|GenerateCommandTests|ManifestTests|ShippedParameterTests|StageParameterTests|SmileCorrectionCommandTests'
# One regular expression for `swift test --filter` (the plain step) and `--skip` (AddressSanitizer).
smile_studies='SmileFitTests/synthetic(ReproducesListedOptions|NewStrikesExpiriesAndFutures)|SmileShortExpiryTests/leaveOneOutMeetsTheGoal|SmileValidationTests/(sampleMarketLeaveOneOut|ssviWithNoiseIsRecovered)'
plain_only="^EndToEndTests\\.($asan_skip_e2e|DeterminismTests)/|^UnitTests\\.($smile_studies)\\(|sigkillLeavesThePreviousOutputsOrNoneNeverAMix"
