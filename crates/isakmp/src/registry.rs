//! The ISAKMP and IPsec DOI registries (IANA "Internet Security Association
//! and Key Management Protocol (ISAKMP) Identifiers" and "IPSEC DOI" /
//! "Internet Key Exchange (IKE) Attributes"), plus the vendor ranges IKEv1
//! peers use in practice (XAUTH, hybrid authentication, Cisco Unity, DPD).
//!
//! Each registry is an open newtype over its wire integer: values nobody
//! named survive a decode and re-encode, and print as their number.

ikeway_codec::open_registry! {
    /// Exchange types (RFC 2408 §3.1, RFC 2409 §5, draft-dukes-ike-mode-cfg
    /// for Transaction).
    ExchangeType(u8) {
        NONE = 0 => "None",
        BASE = 1 => "Base",
        /// Identity Protection: Main Mode in RFC 2409.
        MAIN = 2 => "Main Mode",
        AUTHENTICATION_ONLY = 3 => "Authentication Only",
        AGGRESSIVE = 4 => "Aggressive",
        INFORMATIONAL = 5 => "Informational",
        /// Mode Config and XAUTH (draft-dukes-ike-mode-cfg §3.1).
        TRANSACTION = 6 => "Transaction",
        QUICK = 32 => "Quick Mode",
        NEW_GROUP = 33 => "New Group Mode",
    }
}

ikeway_codec::open_registry! {
    /// Payload types (RFC 2408 §3.1, RFC 3947 §3.2 and §5.2 with the
    /// numbers draft-ietf-ipsec-nat-t-ike-02/03 used before it).
    PayloadType(u8) {
        NONE = 0 => "NONE",
        SA = 1 => "SA",
        /// Only inside an SA payload.
        PROPOSAL = 2 => "P",
        /// Only inside a Proposal.
        TRANSFORM = 3 => "T",
        KE = 4 => "KE",
        ID = 5 => "ID",
        CERT = 6 => "CERT",
        CR = 7 => "CR",
        HASH = 8 => "HASH",
        SIG = 9 => "SIG",
        NONCE = 10 => "NONCE",
        NOTIFICATION = 11 => "N",
        DELETE = 12 => "D",
        VENDOR_ID = 13 => "VID",
        /// Mode Config / XAUTH attributes (draft-dukes-ike-mode-cfg §3.2).
        ATTRIBUTE = 14 => "ATTR",
        NAT_D = 20 => "NAT-D",
        NAT_OA = 21 => "NAT-OA",
        NAT_D_DRAFT = 130 => "NAT-D (draft)",
        NAT_OA_DRAFT = 131 => "NAT-OA (draft)",
        /// IKEv1 fragmentation (Cisco, also strongSwan and Windows).
        FRAGMENT = 132 => "FRAG",
    }
}

ikeway_codec::open_registry! {
    /// Domain of Interpretation (RFC 2408 §3.4, RFC 2407 §4.2).
    Doi(u32) {
        ISAKMP = 0 => "ISAKMP",
        IPSEC = 1 => "IPSEC",
    }
}

ikeway_codec::open_registry! {
    /// Protocol identifiers of the IPsec DOI (RFC 2407 §4.4.1).
    ProtocolId(u8) {
        /// In notifications and deletes that carry no protocol.
        NONE = 0 => "NONE",
        ISAKMP = 1 => "PROTO_ISAKMP",
        AH = 2 => "PROTO_IPSEC_AH",
        ESP = 3 => "PROTO_IPSEC_ESP",
        IPCOMP = 4 => "PROTO_IPCOMP",
    }
}

ikeway_codec::open_registry! {
    /// ISAKMP transform identifiers (RFC 2407 §4.4.2): the one transform
    /// of a phase 1 proposal.
    IsakmpTransformId(u8) {
        KEY_IKE = 1 => "KEY_IKE",
    }
}

ikeway_codec::open_registry! {
    /// IPsec ESP transform identifiers (RFC 2407 §4.4.4, IANA).
    EspTransformId(u8) {
        DES = 2 => "ESP_DES",
        TRIPLE_DES = 3 => "ESP_3DES",
        NULL = 11 => "ESP_NULL",
        AES_CBC = 12 => "ESP_AES",
        AES_CTR = 13 => "ESP_AES_CTR",
        AES_CCM_8 = 14 => "ESP_AES_CCM_8",
        AES_CCM_12 = 15 => "ESP_AES_CCM_12",
        AES_CCM_16 = 16 => "ESP_AES_CCM_16",
        AES_GCM_8 = 18 => "ESP_AES_GCM_8",
        AES_GCM_12 = 19 => "ESP_AES_GCM_12",
        AES_GCM_16 = 20 => "ESP_AES_GCM_16",
        NULL_AUTH_AES_GMAC = 23 => "ESP_NULL_AUTH_AES_GMAC",
    }
}

ikeway_codec::open_registry! {
    /// IPsec AH transform identifiers (RFC 2407 §4.4.3).
    AhTransformId(u8) {
        MD5 = 2 => "AH_MD5",
        SHA = 3 => "AH_SHA",
        SHA2_256 = 5 => "AH_SHA2-256",
        SHA2_384 = 6 => "AH_SHA2-384",
        SHA2_512 = 7 => "AH_SHA2-512",
    }
}

ikeway_codec::open_registry! {
    /// Phase 1 (Oakley) attribute classes (RFC 2409 Appendix A).
    OakleyAttribute(u16) {
        ENCRYPTION_ALGORITHM = 1 => "Encryption-Algorithm",
        HASH_ALGORITHM = 2 => "Hash-Algorithm",
        AUTHENTICATION_METHOD = 3 => "Authentication-Method",
        GROUP_DESCRIPTION = 4 => "Group-Description",
        GROUP_TYPE = 5 => "Group-Type",
        GROUP_PRIME = 6 => "Group-Prime/Irreducible-Polynomial",
        GROUP_GENERATOR_ONE = 7 => "Group-Generator-One",
        GROUP_GENERATOR_TWO = 8 => "Group-Generator-Two",
        GROUP_CURVE_A = 9 => "Group-Curve-A",
        GROUP_CURVE_B = 10 => "Group-Curve-B",
        LIFE_TYPE = 11 => "Life-Type",
        LIFE_DURATION = 12 => "Life-Duration",
        PRF = 13 => "PRF",
        KEY_LENGTH = 14 => "Key-Length",
        FIELD_SIZE = 15 => "Field-Size",
        GROUP_ORDER = 16 => "Group-Order",
    }
}

ikeway_codec::open_registry! {
    /// Phase 2 (IPsec DOI) SA attribute classes (RFC 2407 §4.5, RFC 4304).
    IpsecAttribute(u16) {
        SA_LIFE_TYPE = 1 => "SA-Life-Type",
        SA_LIFE_DURATION = 2 => "SA-Life-Duration",
        GROUP_DESCRIPTION = 3 => "Group-Description",
        ENCAPSULATION_MODE = 4 => "Encapsulation-Mode",
        AUTHENTICATION_ALGORITHM = 5 => "Authentication-Algorithm",
        KEY_LENGTH = 6 => "Key-Length",
        KEY_ROUNDS = 7 => "Key-Rounds",
        COMPRESS_DICTIONARY_SIZE = 8 => "Compress-Dictionary-Size",
        COMPRESS_PRIVATE_ALGORITHM = 9 => "Compress-Private-Algorithm",
        ECN_TUNNEL = 10 => "ECN-Tunnel",
        EXTENDED_SEQUENCE_NUMBER = 11 => "Extended-Sequence-Number",
    }
}

ikeway_codec::open_registry! {
    /// Phase 1 encryption algorithms (RFC 2409 Appendix A, RFC 3602).
    EncryptionAlgorithm(u16) {
        DES_CBC = 1 => "DES-CBC",
        IDEA_CBC = 2 => "IDEA-CBC",
        BLOWFISH_CBC = 3 => "Blowfish-CBC",
        RC5_CBC = 4 => "RC5-R16-B64-CBC",
        TRIPLE_DES_CBC = 5 => "3DES-CBC",
        CAST_CBC = 6 => "CAST-CBC",
        AES_CBC = 7 => "AES-CBC",
        CAMELLIA_CBC = 8 => "CAMELLIA-CBC",
    }
}

ikeway_codec::open_registry! {
    /// Phase 1 hash algorithms (RFC 2409 Appendix A, RFC 4868).
    HashAlgorithm(u16) {
        MD5 = 1 => "MD5",
        SHA = 2 => "SHA",
        TIGER = 3 => "Tiger",
        SHA2_256 = 4 => "SHA2-256",
        SHA2_384 = 5 => "SHA2-384",
        SHA2_512 = 6 => "SHA2-512",
    }
}

ikeway_codec::open_registry! {
    /// Phase 1 authentication methods (RFC 2409 Appendix A, RFC 4754, and
    /// the private-use values of draft-beaulieu-ike-xauth-02 §7.2 and
    /// draft-ietf-ipsra-hybrid-auth-ike).
    AuthMethod(u16) {
        PRE_SHARED_KEY = 1 => "Pre-Shared Key",
        DSS_SIGNATURES = 2 => "DSS signatures",
        RSA_SIGNATURES = 3 => "RSA signatures",
        RSA_ENCRYPTION = 4 => "Encryption with RSA",
        RSA_REVISED_ENCRYPTION = 5 => "Revised encryption with RSA",
        ECDSA_SHA256_P256 = 9 => "ECDSA with SHA-256 on the P-256 curve",
        ECDSA_SHA384_P384 = 10 => "ECDSA with SHA-384 on the P-384 curve",
        ECDSA_SHA512_P521 = 11 => "ECDSA with SHA-512 on the P-521 curve",
        HYBRID_INIT_RSA = 64221 => "HybridInitRSA",
        HYBRID_RESP_RSA = 64222 => "HybridRespRSA",
        HYBRID_INIT_DSS = 64223 => "HybridInitDSS",
        HYBRID_RESP_DSS = 64224 => "HybridRespDSS",
        XAUTH_INIT_PRE_SHARED = 65001 => "XAUTHInitPreShared",
        XAUTH_RESP_PRE_SHARED = 65002 => "XAUTHRespPreShared",
        XAUTH_INIT_DSS = 65003 => "XAUTHInitDSS",
        XAUTH_RESP_DSS = 65004 => "XAUTHRespDSS",
        XAUTH_INIT_RSA = 65005 => "XAUTHInitRSA",
        XAUTH_RESP_RSA = 65006 => "XAUTHRespRSA",
        XAUTH_INIT_RSA_ENCRYPTION = 65007 => "XAUTHInitRSAEncryption",
        XAUTH_RESP_RSA_ENCRYPTION = 65008 => "XAUTHRespRSAEncryption",
        XAUTH_INIT_RSA_REVISED_ENCRYPTION = 65009 => "XAUTHInitRSARevisedEncryption",
        XAUTH_RESP_RSA_REVISED_ENCRYPTION = 65010 => "XAUTHRespRSARevisedEncryption",
    }
}

ikeway_codec::open_registry! {
    /// Diffie-Hellman groups (RFC 2409 §6, RFC 3526, RFC 5903, RFC 8031).
    GroupDescription(u16) {
        MODP_768 = 1 => "768 bit MODP group",
        MODP_1024 = 2 => "1024 bit MODP group",
        EC2N_155 = 3 => "EC2N group on GP[2^155]",
        EC2N_185 = 4 => "EC2N group on GP[2^185]",
        MODP_1536 = 5 => "1536 bit MODP group",
        MODP_2048 = 14 => "2048 bit MODP group",
        MODP_3072 = 15 => "3072 bit MODP group",
        MODP_4096 = 16 => "4096 bit MODP group",
        MODP_6144 = 17 => "6144 bit MODP group",
        MODP_8192 = 18 => "8192 bit MODP group",
        ECP_256 = 19 => "256-bit random ECP group",
        ECP_384 = 20 => "384-bit random ECP group",
        ECP_521 = 21 => "521-bit random ECP group",
        MODP_1024_S160 = 22 => "1024-bit MODP Group with 160-bit Prime Order Subgroup",
        MODP_2048_S224 = 23 => "2048-bit MODP Group with 224-bit Prime Order Subgroup",
        MODP_2048_S256 = 24 => "2048-bit MODP Group with 256-bit Prime Order Subgroup",
        ECP_192 = 25 => "192-bit Random ECP Group",
        ECP_224 = 26 => "224-bit Random ECP Group",
        BRAINPOOL_P224 = 27 => "224-bit Brainpool ECP Group",
        BRAINPOOL_P256 = 28 => "256-bit Brainpool ECP Group",
        BRAINPOOL_P384 = 29 => "384-bit Brainpool ECP Group",
        BRAINPOOL_P512 = 30 => "512-bit Brainpool ECP Group",
        CURVE25519 = 31 => "Curve25519",
        CURVE448 = 32 => "Curve448",
    }
}

ikeway_codec::open_registry! {
    /// Life types, phase 1 and phase 2 alike (RFC 2409 Appendix A,
    /// RFC 2407 §4.5).
    LifeType(u16) {
        SECONDS = 1 => "Seconds",
        KILOBYTES = 2 => "Kilobytes",
    }
}

ikeway_codec::open_registry! {
    /// Encapsulation modes (RFC 2407 §4.5, RFC 3947 §5, and the values
    /// of the NAT-T drafts that Apple and old Cisco peers still send).
    EncapsulationMode(u16) {
        TUNNEL = 1 => "Tunnel",
        TRANSPORT = 2 => "Transport",
        UDP_TUNNEL = 3 => "UDP-Encapsulated-Tunnel",
        UDP_TRANSPORT = 4 => "UDP-Encapsulated-Transport",
        UDP_TUNNEL_DRAFT = 61443 => "UDP-Encapsulated-Tunnel (draft)",
        UDP_TRANSPORT_DRAFT = 61444 => "UDP-Encapsulated-Transport (draft)",
    }
}

ikeway_codec::open_registry! {
    /// Phase 2 authentication algorithms (RFC 2407 §4.5, RFC 4868).
    IpsecAuthAlgorithm(u16) {
        HMAC_MD5 = 1 => "HMAC-MD5",
        HMAC_SHA = 2 => "HMAC-SHA",
        DES_MAC = 3 => "DES-MAC",
        KPDK = 4 => "KPDK",
        HMAC_SHA2_256 = 5 => "HMAC-SHA2-256",
        HMAC_SHA2_384 = 6 => "HMAC-SHA2-384",
        HMAC_SHA2_512 = 7 => "HMAC-SHA2-512",
        HMAC_RIPEMD = 8 => "HMAC-RIPEMD",
        AES_XCBC_MAC = 9 => "AES-XCBC-MAC",
        SIG_RSA = 10 => "SIG-RSA",
        AES_128_GMAC = 11 => "AES-128-GMAC",
        AES_192_GMAC = 12 => "AES-192-GMAC",
        AES_256_GMAC = 13 => "AES-256-GMAC",
    }
}

ikeway_codec::open_registry! {
    /// Identification types (RFC 2407 §4.6.2.1).
    IdType(u8) {
        IPV4_ADDR = 1 => "IPV4_ADDR",
        FQDN = 2 => "FQDN",
        USER_FQDN = 3 => "USER_FQDN",
        IPV4_ADDR_SUBNET = 4 => "IPV4_ADDR_SUBNET",
        IPV6_ADDR = 5 => "IPV6_ADDR",
        IPV6_ADDR_SUBNET = 6 => "IPV6_ADDR_SUBNET",
        IPV4_ADDR_RANGE = 7 => "IPV4_ADDR_RANGE",
        IPV6_ADDR_RANGE = 8 => "IPV6_ADDR_RANGE",
        DER_ASN1_DN = 9 => "DER_ASN1_DN",
        DER_ASN1_GN = 10 => "DER_ASN1_GN",
        KEY_ID = 11 => "KEY_ID",
    }
}

ikeway_codec::open_registry! {
    /// Certificate encodings, in CERT and CR (RFC 2408 §3.9).
    CertEncoding(u8) {
        NONE = 0 => "NONE",
        PKCS7 = 1 => "PKCS #7 wrapped X.509 certificate",
        PGP = 2 => "PGP Certificate",
        DNS_SIGNED_KEY = 3 => "DNS Signed Key",
        X509_SIGNATURE = 4 => "X.509 Certificate - Signature",
        X509_KEY_EXCHANGE = 5 => "X.509 Certificate - Key Exchange",
        KERBEROS_TOKENS = 6 => "Kerberos Tokens",
        CRL = 7 => "Certificate Revocation List (CRL)",
        ARL = 8 => "Authority Revocation List (ARL)",
        SPKI = 9 => "SPKI Certificate",
        X509_ATTRIBUTE = 10 => "X.509 Certificate - Attribute",
    }
}

ikeway_codec::open_registry! {
    /// Notify message types (RFC 2408 §3.14.1, RFC 2407 §4.6.3, RFC 3706
    /// for DPD, and the Cisco Unity heartbeat).
    NotifyType(u16) {
        INVALID_PAYLOAD_TYPE = 1 => "INVALID-PAYLOAD-TYPE",
        DOI_NOT_SUPPORTED = 2 => "DOI-NOT-SUPPORTED",
        SITUATION_NOT_SUPPORTED = 3 => "SITUATION-NOT-SUPPORTED",
        INVALID_COOKIE = 4 => "INVALID-COOKIE",
        INVALID_MAJOR_VERSION = 5 => "INVALID-MAJOR-VERSION",
        INVALID_MINOR_VERSION = 6 => "INVALID-MINOR-VERSION",
        INVALID_EXCHANGE_TYPE = 7 => "INVALID-EXCHANGE-TYPE",
        INVALID_FLAGS = 8 => "INVALID-FLAGS",
        INVALID_MESSAGE_ID = 9 => "INVALID-MESSAGE-ID",
        INVALID_PROTOCOL_ID = 10 => "INVALID-PROTOCOL-ID",
        INVALID_SPI = 11 => "INVALID-SPI",
        INVALID_TRANSFORM_ID = 12 => "INVALID-TRANSFORM-ID",
        ATTRIBUTES_NOT_SUPPORTED = 13 => "ATTRIBUTES-NOT-SUPPORTED",
        NO_PROPOSAL_CHOSEN = 14 => "NO-PROPOSAL-CHOSEN",
        BAD_PROPOSAL_SYNTAX = 15 => "BAD-PROPOSAL-SYNTAX",
        PAYLOAD_MALFORMED = 16 => "PAYLOAD-MALFORMED",
        INVALID_KEY_INFORMATION = 17 => "INVALID-KEY-INFORMATION",
        INVALID_ID_INFORMATION = 18 => "INVALID-ID-INFORMATION",
        INVALID_CERT_ENCODING = 19 => "INVALID-CERT-ENCODING",
        INVALID_CERTIFICATE = 20 => "INVALID-CERTIFICATE",
        CERT_TYPE_UNSUPPORTED = 21 => "CERT-TYPE-UNSUPPORTED",
        INVALID_CERT_AUTHORITY = 22 => "INVALID-CERT-AUTHORITY",
        INVALID_HASH_INFORMATION = 23 => "INVALID-HASH-INFORMATION",
        AUTHENTICATION_FAILED = 24 => "AUTHENTICATION-FAILED",
        INVALID_SIGNATURE = 25 => "INVALID-SIGNATURE",
        ADDRESS_NOTIFICATION = 26 => "ADDRESS-NOTIFICATION",
        NOTIFY_SA_LIFETIME = 27 => "NOTIFY-SA-LIFETIME",
        CERTIFICATE_UNAVAILABLE = 28 => "CERTIFICATE-UNAVAILABLE",
        UNSUPPORTED_EXCHANGE_TYPE = 29 => "UNSUPPORTED-EXCHANGE-TYPE",
        UNEQUAL_PAYLOAD_LENGTHS = 30 => "UNEQUAL-PAYLOAD-LENGTHS",
        CONNECTED = 16384 => "CONNECTED",
        RESPONDER_LIFETIME = 24576 => "RESPONDER-LIFETIME",
        REPLAY_STATUS = 24577 => "REPLAY-STATUS",
        INITIAL_CONTACT = 24578 => "INITIAL-CONTACT",
        R_U_THERE = 36136 => "R-U-THERE",
        R_U_THERE_ACK = 36137 => "R-U-THERE-ACK",
        UNITY_HEARTBEAT = 40500 => "UNITY-HEARTBEAT",
    }
}

impl NotifyType {
    /// Whether this is an error type (RFC 2408 §3.14.1: 1 to 8191), which
    /// ends the exchange, as opposed to a status.
    pub const fn is_error(self) -> bool {
        matches!(self.0, 1..=8191)
    }
}

ikeway_codec::open_registry! {
    /// Attribute payload message types (draft-dukes-ike-mode-cfg §3.2).
    ConfigType(u8) {
        REQUEST = 1 => "ISAKMP_CFG_REQUEST",
        REPLY = 2 => "ISAKMP_CFG_REPLY",
        SET = 3 => "ISAKMP_CFG_SET",
        ACK = 4 => "ISAKMP_CFG_ACK",
    }
}

ikeway_codec::open_registry! {
    /// Mode Config attribute types (draft-dukes-ike-mode-cfg §3.3), the
    /// XAUTH ones (draft-beaulieu-ike-xauth-02 §6.1), and Cisco Unity's.
    ConfigAttributeType(u16) {
        INTERNAL_IP4_ADDRESS = 1 => "INTERNAL_IP4_ADDRESS",
        INTERNAL_IP4_NETMASK = 2 => "INTERNAL_IP4_NETMASK",
        INTERNAL_IP4_DNS = 3 => "INTERNAL_IP4_DNS",
        INTERNAL_IP4_NBNS = 4 => "INTERNAL_IP4_NBNS",
        INTERNAL_ADDRESS_EXPIRY = 5 => "INTERNAL_ADDRESS_EXPIRY",
        INTERNAL_IP4_DHCP = 6 => "INTERNAL_IP4_DHCP",
        APPLICATION_VERSION = 7 => "APPLICATION_VERSION",
        INTERNAL_IP6_ADDRESS = 8 => "INTERNAL_IP6_ADDRESS",
        INTERNAL_IP6_NETMASK = 9 => "INTERNAL_IP6_NETMASK",
        INTERNAL_IP6_DNS = 10 => "INTERNAL_IP6_DNS",
        INTERNAL_IP6_NBNS = 11 => "INTERNAL_IP6_NBNS",
        INTERNAL_IP6_DHCP = 12 => "INTERNAL_IP6_DHCP",
        INTERNAL_IP4_SUBNET = 13 => "INTERNAL_IP4_SUBNET",
        SUPPORTED_ATTRIBUTES = 14 => "SUPPORTED_ATTRIBUTES",
        INTERNAL_IP6_SUBNET = 15 => "INTERNAL_IP6_SUBNET",
        XAUTH_TYPE = 16520 => "XAUTH-TYPE",
        XAUTH_USER_NAME = 16521 => "XAUTH-USER-NAME",
        XAUTH_USER_PASSWORD = 16522 => "XAUTH-USER-PASSWORD",
        XAUTH_PASSCODE = 16523 => "XAUTH-PASSCODE",
        XAUTH_MESSAGE = 16524 => "XAUTH-MESSAGE",
        XAUTH_CHALLENGE = 16525 => "XAUTH-CHALLENGE",
        XAUTH_DOMAIN = 16526 => "XAUTH-DOMAIN",
        XAUTH_STATUS = 16527 => "XAUTH-STATUS",
        XAUTH_NEXT_PIN = 16528 => "XAUTH-NEXT-PIN",
        XAUTH_ANSWER = 16529 => "XAUTH-ANSWER",
        UNITY_BANNER = 28672 => "UNITY_BANNER",
        UNITY_SAVE_PASSWD = 28673 => "UNITY_SAVE_PASSWD",
        UNITY_DEF_DOMAIN = 28674 => "UNITY_DEF_DOMAIN",
        UNITY_SPLITDNS_NAME = 28675 => "UNITY_SPLITDNS_NAME",
        UNITY_SPLIT_INCLUDE = 28676 => "UNITY_SPLIT_INCLUDE",
        UNITY_NATT_PORT = 28677 => "UNITY_NATT_PORT",
        UNITY_LOCAL_LAN = 28678 => "UNITY_LOCAL_LAN",
        UNITY_PFS = 28679 => "UNITY_PFS",
        UNITY_FW_TYPE = 28680 => "UNITY_FW_TYPE",
        UNITY_BACKUP_SERVERS = 28681 => "UNITY_BACKUP_SERVERS",
        UNITY_DDNS_HOSTNAME = 28682 => "UNITY_DDNS_HOSTNAME",
    }
}

impl ConfigAttributeType {
    /// Attributes whose values are credentials: never printed, zeroized
    /// when dropped (draft-beaulieu-ike-xauth-02 §6.1).
    pub const fn is_secret(self) -> bool {
        matches!(
            self,
            Self::XAUTH_USER_PASSWORD
                | Self::XAUTH_PASSCODE
                | Self::XAUTH_NEXT_PIN
                | Self::XAUTH_ANSWER
        )
    }
}

ikeway_codec::open_registry! {
    /// XAUTH-TYPE values (draft-beaulieu-ike-xauth-02 §6.2).
    XauthType(u16) {
        GENERIC = 0 => "Generic",
        RADIUS_CHAP = 1 => "RADIUS-CHAP",
        OTP = 2 => "OTP",
        S_KEY = 3 => "S/KEY",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        assert_eq!(ExchangeType::AGGRESSIVE.to_string(), "Aggressive");
        assert_eq!(ExchangeType(77).to_string(), "77");
        // Debug is Display, as for IKEv2's registries (one macro, `ikeway_codec::open_registry!`).
        assert_eq!(format!("{:?}", PayloadType::NAT_D_DRAFT), "NAT-D (draft)");
        assert_eq!(format!("{:?}", PayloadType(200)), "200");
        assert_eq!(NotifyType::R_U_THERE.0, 36136);
        assert!(NotifyType::NO_PROPOSAL_CHOSEN.is_error());
        assert!(!NotifyType::INITIAL_CONTACT.is_error());
        assert!(ConfigAttributeType::XAUTH_USER_PASSWORD.is_secret());
        assert!(!ConfigAttributeType::XAUTH_USER_NAME.is_secret());
        assert!(AuthMethod::XAUTH_INIT_PRE_SHARED.is_known());
        assert!(!GroupDescription(999).is_known());
        assert_eq!(EncapsulationMode::KNOWN.len(), 6);
    }
}
