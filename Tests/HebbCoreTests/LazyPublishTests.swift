import HebbianRegression
import Testing
@testable import HebbCore
import HebbTestSupport

/// No work for nobody: with ``Publisher/encodesOnlyForSubscribers`` on, a coefficient message
/// nobody subscribed to is not encoded until a late joiner, `snapshot` or a state change needs it — and then it
/// is byte for byte the message an eager core (the same frames, the same clock) encoded at once.
@Suite struct LazyPublishTests {
    /// A lazy core and an eager one (the default) with the same model on one manual clock.
    private func cores(format: PublishFormat = .json, every: Int = 1) throws -> (lazy: EngineCore, eager: EngineCore) {
        let clock = ManualClock()
        let lazy = try EngineFixtures.core([EngineFixtures.model("m", batch: 2)], format: format, clock: clock.engineClock)
        let eager = try EngineFixtures.core([EngineFixtures.model("m", batch: 2)], format: format, clock: clock.engineClock)
        lazy.publisher.encodesOnlyForSubscribers = true
        for core in [lazy, eager] { core.publisher.pacing.every = every }
        return (lazy, eager)
    }

    /// Sends the same three batches (one update each) to both cores.
    private func feed(_ cores: (lazy: EngineCore, eager: EngineCore), updates: Int = 3) {
        for i in 0..<updates {
            let r = EngineFixtures.rows((2 * i)..<(2 * i + 2))
            for core in [cores.lazy, cores.eager] { #expect(EngineFixtures.send(core, EngineFixtures.binary("m", x: r.x, y: r.y, rows: 2)) == nil) }
        }
    }

    private func subscribe(_ core: EngineCore, _ topic: String, _ on: Bool = true) {
        ([on ? 1 : 0] + Array(topic.utf8)).withUnsafeBytes { core.handleSubscription($0) }
    }

    @Test(arguments: [PublishFormat.json, .binary])
    func withoutASubscriberNothingIsEncodedAndALateJoinerGetsTheEagerBytes(format: PublishFormat) throws {
        let cores = try cores(format: format)
        let encodedAtStart = cores.lazy.publisher.encoded
        feed(cores)
        #expect(cores.lazy.publisher.encoded == encodedAtStart, "no subscriber: no update was encoded")
        #expect(cores.lazy.outbox.isEmpty)
        #expect(cores.eager.publisher.encoded == encodedAtStart + 3)
        // Observable counters are those of eager publishing (XPUB would have dropped the messages).
        #expect(cores.lazy.counters.published == cores.eager.counters.published)
        let eagerLast = try #require(cores.eager.outbox.last)
        subscribe(cores.lazy, "coef/m/")
        #expect(cores.lazy.outbox == [eagerLast])
        #expect(cores.lazy.publisher.encoded == encodedAtStart + 1)
    }

    @Test func aPrefixSubscriptionMakesUpdatesEncodeAtOnceUntilItsUnsubscribe() throws {
        let cores = try cores()
        subscribe(cores.lazy, "")        // every topic
        cores.lazy.drainOutbox { _ in }
        cores.eager.drainOutbox { _ in }
        feed(cores, updates: 2)
        #expect(cores.lazy.outbox == cores.eager.outbox)
        subscribe(cores.lazy, "", false)
        let encoded = cores.lazy.publisher.encoded
        feed(cores, updates: 1)
        #expect(cores.lazy.publisher.encoded == encoded)
        #expect(cores.lazy.outbox.count == 2)
    }

    /// `publish.every = 2`: the third update is paced out, so the second's message must be encoded before the
    /// third changes the state — and a late joiner still gets the second's exact bytes.
    @Test func aMessageThatPacingKeepsIsEncodedBeforeTheStateMovesOn() throws {
        let cores = try cores(every: 2)
        feed(cores)
        let eagerLast = try #require(cores.eager.outbox.last)
        #expect(EngineFixtures.body(eagerLast)["step"]?.int == 2)
        subscribe(cores.lazy, "coef/")
        #expect(cores.lazy.outbox == [eagerLast])
    }

    @Test func snapshotEncodesOnDemandTheMessageEagerEncodingPublished() throws {
        let cores = try cores()
        feed(cores)
        let encoded = cores.lazy.publisher.encoded
        let request = #"{"cmd":"snapshot","model":"m"}"#
        #expect(EngineFixtures.control(cores.lazy, request) == EngineFixtures.control(cores.eager, request))
        #expect(cores.lazy.publisher.encoded == encoded + 1)
    }
}
