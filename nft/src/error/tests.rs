use super::*;

fn refused(errno: i32) -> NftError {
    NftError::Refused(vec![Refusal {
        what: "set s".into(),
        errno,
        detail: None,
    }])
}

#[test]
fn each_error_says_whose_fault_it_is_and_whether_to_retry() {
    let too_long = NftError::from(EncodeError::TooLong {
        what: "set s".into(),
        kind: 3,
        len: 70_000,
        max: 65_535,
    });
    assert_eq!(
        (too_long.fault(), too_long.retryable()),
        (Fault::Bug, false)
    );
    let denied = NftError::io(
        "opening the socket",
        io::Error::from(io::ErrorKind::PermissionDenied),
    );
    assert!(matches!(denied, NftError::Permission(_)), "{denied:?}");
    assert_eq!(
        (denied.fault(), denied.retryable()),
        (Fault::Operator, false)
    );
    let gone = refused(nix::libc::ENOENT);
    assert_eq!((gone.fault(), gone.retryable()), (Fault::Kernel, false));
    assert!(refused(nix::libc::EBUSY).retryable());
    let full = NftError::io("sending", io::Error::from_raw_os_error(nix::libc::ENOBUFS));
    assert_eq!((full.fault(), full.retryable()), (Fault::Operator, true));
}

#[test]
fn a_refusal_names_the_message_and_the_kernel_reason() {
    let error = NftError::Refused(vec![Refusal {
        what: "rule in chain forward".into(),
        errno: nix::libc::ENOENT,
        detail: Some("set not found".into()),
    }]);
    let text = error.to_string();
    assert!(
        text.starts_with("nftables refused the transaction: rule in chain forward: "),
        "{text}"
    );
    assert!(text.ends_with("(set not found)"), "{text}");
}
