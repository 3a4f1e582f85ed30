//! Keep only the test body's output from a stream of the re-executed test binary: the bytes
//! between [`BODY_START`] and [`BODY_END`], as they arrive.

use super::channel::{BODY_END, BODY_START};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Before,
    In,
    After,
}

/// A streaming filter: feed it chunks, get back the part of them that belongs to the body.
#[derive(Debug)]
pub(crate) struct BodyFilter {
    state: State,
    held: Vec<u8>,
}

impl Default for BodyFilter {
    fn default() -> Self {
        BodyFilter {
            state: State::Before,
            held: Vec::new(),
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The length of the longest suffix of `data` that is a proper prefix of `marker`.
fn partial_suffix(data: &[u8], marker: &[u8]) -> usize {
    (1..marker.len().min(data.len() + 1))
        .rev()
        .find(|&n| data.ends_with(&marker[..n]))
        .unwrap_or(0)
}

impl BodyFilter {
    /// Feed a chunk; return the body's bytes it completes.
    pub(crate) fn feed(&mut self, data: &[u8]) -> Vec<u8> {
        self.held.extend_from_slice(data);
        let mut out = Vec::new();
        loop {
            match self.state {
                State::Before => match find(&self.held, BODY_START) {
                    Some(i) => {
                        self.held.drain(..i + BODY_START.len());
                        self.state = State::In;
                    }
                    None => {
                        let keep = partial_suffix(&self.held, BODY_START);
                        self.held.drain(..self.held.len() - keep);
                        return out;
                    }
                },
                State::In => match find(&self.held, BODY_END) {
                    Some(i) => {
                        out.extend_from_slice(&self.held[..i]);
                        self.held.clear();
                        self.state = State::After;
                    }
                    None => {
                        let keep = partial_suffix(&self.held, BODY_END);
                        let emit = self.held.len() - keep;
                        out.extend(self.held.drain(..emit));
                        return out;
                    }
                },
                State::After => {
                    self.held.clear();
                    return out;
                }
            }
        }
    }

    /// The end of the stream: what was held back, if the body never said it ended (it exited or
    /// was killed).
    pub(crate) fn finish(&mut self) -> Vec<u8> {
        match self.state {
            State::In => std::mem::take(&mut self.held),
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(chunks: &[&[u8]]) -> Vec<u8> {
        let mut f = BodyFilter::default();
        let mut out = Vec::new();
        for c in chunks {
            out.extend(f.feed(c));
        }
        out.extend(f.finish());
        out
    }

    fn framed(body: &[u8]) -> Vec<u8> {
        let mut v = b"\nrunning 1 test\ntest m::t ... ".to_vec();
        v.extend_from_slice(BODY_START);
        v.extend_from_slice(body);
        v.extend_from_slice(BODY_END);
        v.extend_from_slice(b"ok\n\ntest result: ok. 1 passed\n");
        v
    }

    #[test]
    fn keeps_only_the_body() {
        assert_eq!(run(&[&framed(b"hello\nworld")]), b"hello\nworld");
    }

    #[test]
    fn markers_split_at_every_byte_boundary() {
        let all = framed(b"abc\x01def\n");
        for cut in 0..all.len() {
            for cut2 in cut..all.len() {
                assert_eq!(
                    run(&[&all[..cut], &all[cut..cut2], &all[cut2..]]),
                    b"abc\x01def\n",
                    "cuts {cut} {cut2}"
                );
            }
        }
    }

    #[test]
    fn a_body_that_never_ends_keeps_everything_after_the_start() {
        let mut v = b"noise".to_vec();
        v.extend_from_slice(BODY_START);
        v.extend_from_slice(b"partial \x01[/sandbox");
        assert_eq!(run(&[&v]), b"partial \x01[/sandbox");
    }

    #[test]
    fn nothing_without_a_start() {
        let mut f = BodyFilter::default();
        assert!(f.feed(b"running 0 tests\n").is_empty());
        assert!(f.finish().is_empty());
        assert_eq!(f.state, State::Before);
    }
}
