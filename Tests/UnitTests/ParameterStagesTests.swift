import Foundation
import Testing
@testable import PortfolioMargin
@testable import PMTestSupport

/// The shipped parameter file states the §8 stage thresholds explicitly, with sources.
@Suite struct ParameterStagesTests {
    /// The file's `stages` are docs/model.md §8's values (1.00, 0.85, 1.00, 0.90, 10%): stating them
    /// explicitly changes no result. Read from the file's text, not from the loader's defaults.
    @Test func shippedFileStatesTheStageThresholds() throws {
        let doc = try JSON.parse(Array(try String(contentsOfFile: TestSupport.path("data/params/pm-params.json"), encoding: .utf8).utf8))
        guard case let .object(top) = doc, case let .object(stages)? = top.first(where: { $0.0 == "stages" })?.1 else {
            Issue.record("the shipped parameter file has no `stages` object"); return
        }
        for key in StagePolicy.keys {
            #expect(stages.contains { $0.0 == key }, "stages.\(key) is not stated")
        }
        let p = TestSupport.shippedParams.stages
        #expect(p.liquidationMMRate == 1.0)
        #expect(p.autoRepayMMRate == 0.85)
        #expect(p.imBreachIMRate == 1.0)
        #expect(p.liquidationTargetMMRate == 0.9)
        #expect(p.liquidationStepFraction == 0.1)
        #expect(Set(p.sources.keys) == Set(StagePolicy.keys), "every threshold has a source")
        var defaults = StagePolicy()
        defaults.sources = p.sources
        #expect(p == defaults, "the stated thresholds are the defaults")
    }

    /// `stages.sources` is an object of strings; other unknown keys are still refused.
    @Test func stageSourcesAreValidated() throws {
        let base = try String(contentsOfFile: TestSupport.path("data/params/pm-params.json"), encoding: .utf8)
        func parse(_ stages: String) throws -> ParameterSet {
            guard case let .object(top) = try JSON.parse(Array(base.utf8)) else { throw InputError("not an object") }
            let replaced = try JSON.parse(Array(stages.utf8))
            return try ParameterSet.parse(.object(top.map { $0.0 == "stages" ? ($0.0, replaced) : $0 }))
        }
        #expect(try parse(#"{"liquidationMMRate": 0.95, "sources": {"liquidationMMRate": "desk"}}"#).stages.sources == ["liquidationMMRate": "desk"])
        for (bad, field) in [(#"{"sources": 3}"#, "sources"), (#"{"sources": {"x": 1}}"#, "sources.x"), (#"{"source": {}}"#, "source")] {
            do {
                _ = try parse(bad)
                Issue.record("\(bad) accepted")
            } catch let e as InputError {
                #expect(e.field == field, "\(bad): \(e)")
            }
        }
    }

    /// A misspelt top-level key is refused (it was ignored, leaving the shipped values in force
    /// without a word), naming the key; the three known keys still load.
    @Test func unknownTopLevelKeysAreRefused() throws {
        let base = try String(contentsOfFile: TestSupport.path("data/params/pm-params.json"), encoding: .utf8)
        guard case let .object(top) = try JSON.parse(Array(base.utf8)) else { Issue.record("not an object"); return }
        _ = try ParameterSet.parse(.object(top))
        for misspelt in ["stage", "coin", "Coins", "sources", ""] {
            do {
                _ = try ParameterSet.parse(.object(top + [(misspelt, .object([]))]))
                Issue.record("top-level key \"\(misspelt)\" accepted")
            } catch let e as InputError {
                #expect(e.field == InputError.shortLabel(misspelt), "\(misspelt): \(e)")
                #expect(e.description.contains("unknown key"), "\(e)")
            }
        }
    }
}
