/// Counters of the engine, read by `status` and exported as metrics.
package struct EngineCounters: Sendable, Equatable {
    /// Ingest messages received (valid or not).
    package var messagesReceived = 0
    /// Rows accepted.
    package var samplesReceived = 0
    /// Mini-batch updates run.
    package var updates = 0
    /// Messages handed to the publish socket.
    package var published = 0
    /// Rejected messages by reason (all models, including unknown ones).
    package var rejected: [RejectionReason: Int] = [:]
    /// Control requests served, and how many got an error reply.
    package var controlRequests = 0
    /// Control requests that got an error reply.
    package var controlErrors = 0
    /// Live subscriptions on the publish socket (subscribe minus unsubscribe messages seen by XPUB).
    package var subscriptions = 0
    /// Updates rolled back by the divergence guard.
    package var divergences = 0
    /// Connection events on the bound sockets (libzmq's socket monitor), by socket and event: a peer that
    /// connects, goes away, or is cut off by libzmq (a frame over `limits.max_message_bytes`, a failed handshake).
    package var connections: [ConnectionEventKey: Int] = [:]
    /// Drift alarms raised (all models).
    package var drifts = 0

    /// All zero.
    package init() {}
}

/// A connection event on one of the daemon's bound sockets.
package enum ConnectionEvent: String, Sendable, CaseIterable {
    /// A peer connected.
    case accepted
    /// A connection closed: the peer left, or libzmq cut it off (e.g. a frame over `limits.max_message_bytes`).
    case disconnected
    /// The ZMTP or CURVE handshake failed (not a ZeroMQ peer, a malformed greeting, an unauthorized key).
    case handshakeFailed = "handshake_failed"
}

/// Which socket and which event a connection count is for.
package struct ConnectionEventKey: Hashable, Sendable {
    /// `ingest` or `control`.
    package var socket: String
    /// The event.
    package var event: ConnectionEvent
    package init(socket: String, event: ConnectionEvent) {
        self.socket = socket
        self.event = event
    }
}
