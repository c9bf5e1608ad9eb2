//! IANA "Internet Key Exchange Version 2 (IKEv2) Parameters" registries.
//!
//! Each registry is a transparent newtype over its wire integer with named
//! constants, so values this crate has never heard of survive a decode and
//! re-encode unchanged (RFC 7296 §2.5: unknown values must not break
//! parsing). `name()` gives the IANA mnemonic; `Display` and `Debug` print
//! it, or the bare number for values not listed here.

/// Declares an open registry: a `Copy` newtype over the wire integer, its
/// named values, `KNOWN`, `name()`, `is_known()`, a `Display` (and `Debug`)
/// that prints the name or else the number, and conversions both ways.
///
/// Used for IKEv2's registries here and IKEv1's in `ikeway-isakmp`.
#[macro_export]
macro_rules! open_registry {
    (
        $(#[$meta:meta])*
        $name:ident($repr:ty) {
            $( $(#[$cmeta:meta])* $konst:ident = $val:literal => $label:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name(pub $repr);

        #[allow(missing_docs)]
        impl $name {
            $( $(#[$cmeta])* pub const $konst: Self = Self($val); )*

            /// Every value with a name in this crate, in registry order.
            pub const KNOWN: &'static [Self] = &[$(Self::$konst),*];

            /// The registry's name of this value, if known.
            pub const fn name(self) -> Option<&'static str> {
                match self.0 {
                    $( $val => Some($label), )*
                    _ => None,
                }
            }

            /// Whether this value has a name in this crate.
            pub const fn is_known(self) -> bool {
                self.name().is_some()
            }
        }

        impl ::core::fmt::Display for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                match self.name() {
                    Some(n) => f.write_str(n),
                    None => ::core::fmt::Display::fmt(&self.0, f),
                }
            }
        }

        impl ::core::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                ::core::fmt::Display::fmt(self, f)
            }
        }

        impl From<$repr> for $name {
            fn from(v: $repr) -> Self {
                Self(v)
            }
        }

        impl From<$name> for $repr {
            fn from(v: $name) -> Self {
                v.0
            }
        }
    };
}

open_registry! {
    /// Exchange Types (RFC 7296 §3.1).
    ExchangeType(u8) {
        IKE_SA_INIT = 34 => "IKE_SA_INIT",
        IKE_AUTH = 35 => "IKE_AUTH",
        CREATE_CHILD_SA = 36 => "CREATE_CHILD_SA",
        INFORMATIONAL = 37 => "INFORMATIONAL",
        /// RFC 5723.
        IKE_SESSION_RESUME = 38 => "IKE_SESSION_RESUME",
        /// RFC 9242.
        IKE_INTERMEDIATE = 43 => "IKE_INTERMEDIATE",
        /// RFC 9370.
        IKE_FOLLOWUP_KE = 44 => "IKE_FOLLOWUP_KE",
    }
}

open_registry! {
    /// Payload Types (RFC 7296 §3.2), with short display names.
    PayloadType(u8) {
        /// "No Next Payload".
        NONE = 0 => "NONE",
        SA = 33 => "SA",
        KE = 34 => "KE",
        IDI = 35 => "IDi",
        IDR = 36 => "IDr",
        CERT = 37 => "CERT",
        CERTREQ = 38 => "CERTREQ",
        AUTH = 39 => "AUTH",
        NONCE = 40 => "Nonce",
        NOTIFY = 41 => "N",
        DELETE = 42 => "D",
        VENDOR_ID = 43 => "V",
        TSI = 44 => "TSi",
        TSR = 45 => "TSr",
        /// Encrypted and Authenticated.
        SK = 46 => "SK",
        /// Configuration.
        CP = 47 => "CP",
        EAP = 48 => "EAP",
        /// Generic Secure Password Methods (RFC 6467).
        GSPM = 49 => "GSPM",
        /// Encrypted and Authenticated Fragment (RFC 7383).
        SKF = 53 => "SKF",
        /// Puzzle Solution (RFC 8019).
        PS = 54 => "PS",
    }
}

open_registry! {
    /// Transform Types (RFC 7296 §3.3.2, RFC 9370).
    TransformType(u8) {
        ENCR = 1 => "ENCR",
        PRF = 2 => "PRF",
        INTEG = 3 => "INTEG",
        /// Diffie-Hellman group / Key Exchange Method.
        DH = 4 => "DH",
        ESN = 5 => "ESN",
        ADDKE1 = 6 => "ADDKE1",
        ADDKE2 = 7 => "ADDKE2",
        ADDKE3 = 8 => "ADDKE3",
        ADDKE4 = 9 => "ADDKE4",
        ADDKE5 = 10 => "ADDKE5",
        ADDKE6 = 11 => "ADDKE6",
        ADDKE7 = 12 => "ADDKE7",
    }
}

open_registry! {
    /// Transform Type 1, Encryption Algorithm Transform IDs.
    EncrAlg(u16) {
        ENCR_DES_IV64 = 1 => "ENCR_DES_IV64",
        ENCR_DES = 2 => "ENCR_DES",
        ENCR_3DES = 3 => "ENCR_3DES",
        ENCR_RC5 = 4 => "ENCR_RC5",
        ENCR_IDEA = 5 => "ENCR_IDEA",
        ENCR_CAST = 6 => "ENCR_CAST",
        ENCR_BLOWFISH = 7 => "ENCR_BLOWFISH",
        ENCR_3IDEA = 8 => "ENCR_3IDEA",
        ENCR_DES_IV32 = 9 => "ENCR_DES_IV32",
        ENCR_NULL = 11 => "ENCR_NULL",
        ENCR_AES_CBC = 12 => "ENCR_AES_CBC",
        ENCR_AES_CTR = 13 => "ENCR_AES_CTR",
        ENCR_AES_CCM_8 = 14 => "ENCR_AES_CCM_8",
        ENCR_AES_CCM_12 = 15 => "ENCR_AES_CCM_12",
        ENCR_AES_CCM_16 = 16 => "ENCR_AES_CCM_16",
        ENCR_AES_GCM_8 = 18 => "ENCR_AES_GCM_8",
        ENCR_AES_GCM_12 = 19 => "ENCR_AES_GCM_12",
        ENCR_AES_GCM_16 = 20 => "ENCR_AES_GCM_16",
        ENCR_NULL_AUTH_AES_GMAC = 21 => "ENCR_NULL_AUTH_AES_GMAC",
        ENCR_CAMELLIA_CBC = 23 => "ENCR_CAMELLIA_CBC",
        ENCR_CAMELLIA_CTR = 24 => "ENCR_CAMELLIA_CTR",
        ENCR_CAMELLIA_CCM_8 = 25 => "ENCR_CAMELLIA_CCM_8",
        ENCR_CAMELLIA_CCM_12 = 26 => "ENCR_CAMELLIA_CCM_12",
        ENCR_CAMELLIA_CCM_16 = 27 => "ENCR_CAMELLIA_CCM_16",
        ENCR_CHACHA20_POLY1305 = 28 => "ENCR_CHACHA20_POLY1305",
        ENCR_AES_CCM_8_IIV = 29 => "ENCR_AES_CCM_8_IIV",
        ENCR_AES_GCM_16_IIV = 30 => "ENCR_AES_GCM_16_IIV",
        ENCR_CHACHA20_POLY1305_IIV = 31 => "ENCR_CHACHA20_POLY1305_IIV",
    }
}

open_registry! {
    /// Transform Type 2, Pseudorandom Function Transform IDs.
    PrfAlg(u16) {
        PRF_HMAC_MD5 = 1 => "PRF_HMAC_MD5",
        PRF_HMAC_SHA1 = 2 => "PRF_HMAC_SHA1",
        PRF_HMAC_TIGER = 3 => "PRF_HMAC_TIGER",
        PRF_AES128_XCBC = 4 => "PRF_AES128_XCBC",
        PRF_HMAC_SHA2_256 = 5 => "PRF_HMAC_SHA2_256",
        PRF_HMAC_SHA2_384 = 6 => "PRF_HMAC_SHA2_384",
        PRF_HMAC_SHA2_512 = 7 => "PRF_HMAC_SHA2_512",
        PRF_AES128_CMAC = 8 => "PRF_AES128_CMAC",
    }
}

open_registry! {
    /// Transform Type 3, Integrity Algorithm Transform IDs.
    IntegAlg(u16) {
        NONE = 0 => "NONE",
        AUTH_HMAC_MD5_96 = 1 => "AUTH_HMAC_MD5_96",
        AUTH_HMAC_SHA1_96 = 2 => "AUTH_HMAC_SHA1_96",
        AUTH_DES_MAC = 3 => "AUTH_DES_MAC",
        AUTH_KPDK_MD5 = 4 => "AUTH_KPDK_MD5",
        AUTH_AES_XCBC_96 = 5 => "AUTH_AES_XCBC_96",
        AUTH_HMAC_MD5_128 = 6 => "AUTH_HMAC_MD5_128",
        AUTH_HMAC_SHA1_160 = 7 => "AUTH_HMAC_SHA1_160",
        AUTH_AES_CMAC_96 = 8 => "AUTH_AES_CMAC_96",
        AUTH_AES_128_GMAC = 9 => "AUTH_AES_128_GMAC",
        AUTH_AES_192_GMAC = 10 => "AUTH_AES_192_GMAC",
        AUTH_AES_256_GMAC = 11 => "AUTH_AES_256_GMAC",
        AUTH_HMAC_SHA2_256_128 = 12 => "AUTH_HMAC_SHA2_256_128",
        AUTH_HMAC_SHA2_384_192 = 13 => "AUTH_HMAC_SHA2_384_192",
        AUTH_HMAC_SHA2_512_256 = 14 => "AUTH_HMAC_SHA2_512_256",
    }
}

open_registry! {
    /// Transform Type 4, Diffie-Hellman Group / Key Exchange Method IDs
    /// (RFC 7296 §3.3.2, RFC 5114, RFC 5903, RFC 6954, RFC 8031, RFC 9370).
    DhGroup(u16) {
        NONE = 0 => "NONE",
        MODP_768 = 1 => "MODP_768",
        MODP_1024 = 2 => "MODP_1024",
        MODP_1536 = 5 => "MODP_1536",
        MODP_2048 = 14 => "MODP_2048",
        MODP_3072 = 15 => "MODP_3072",
        MODP_4096 = 16 => "MODP_4096",
        MODP_6144 = 17 => "MODP_6144",
        MODP_8192 = 18 => "MODP_8192",
        ECP_256 = 19 => "ECP_256",
        ECP_384 = 20 => "ECP_384",
        ECP_521 = 21 => "ECP_521",
        MODP_1024_160 = 22 => "MODP_1024_160",
        MODP_2048_224 = 23 => "MODP_2048_224",
        MODP_2048_256 = 24 => "MODP_2048_256",
        ECP_192 = 25 => "ECP_192",
        ECP_224 = 26 => "ECP_224",
        BRAINPOOL_P224R1 = 27 => "BRAINPOOL_P224R1",
        BRAINPOOL_P256R1 = 28 => "BRAINPOOL_P256R1",
        BRAINPOOL_P384R1 = 29 => "BRAINPOOL_P384R1",
        BRAINPOOL_P512R1 = 30 => "BRAINPOOL_P512R1",
        CURVE25519 = 31 => "CURVE25519",
        CURVE448 = 32 => "CURVE448",
        ML_KEM_512 = 35 => "ML_KEM_512",
        ML_KEM_768 = 36 => "ML_KEM_768",
        ML_KEM_1024 = 37 => "ML_KEM_1024",
    }
}

open_registry! {
    /// Transform Type 5, Extended Sequence Numbers Transform IDs.
    EsnMode(u16) {
        NO_ESN = 0 => "NO_ESN",
        ESN = 1 => "ESN",
    }
}

open_registry! {
    /// Transform Attribute Types (RFC 7296 §3.3.5).
    AttributeType(u16) {
        /// Key Length in bits, always TV format.
        KEY_LENGTH = 14 => "KEY_LENGTH",
    }
}

open_registry! {
    /// Security Protocol Identifiers (RFC 7296 §3.3.1).
    ProtocolId(u8) {
        /// No protocol: Notify payloads that concern no SA (RFC 7296 §3.10).
        NONE = 0 => "NONE",
        IKE = 1 => "IKE",
        AH = 2 => "AH",
        ESP = 3 => "ESP",
    }
}

open_registry! {
    /// IKEv2 Identification Payload ID Types (RFC 7296 §3.5, RFC 7619).
    IdType(u8) {
        ID_IPV4_ADDR = 1 => "ID_IPV4_ADDR",
        ID_FQDN = 2 => "ID_FQDN",
        ID_RFC822_ADDR = 3 => "ID_RFC822_ADDR",
        ID_IPV6_ADDR = 5 => "ID_IPV6_ADDR",
        ID_DER_ASN1_DN = 9 => "ID_DER_ASN1_DN",
        ID_DER_ASN1_GN = 10 => "ID_DER_ASN1_GN",
        ID_KEY_ID = 11 => "ID_KEY_ID",
        ID_FC_NAME = 12 => "ID_FC_NAME",
        ID_NULL = 13 => "ID_NULL",
    }
}

open_registry! {
    /// IKEv2 Authentication Methods (RFC 7296 §3.8, RFC 4754, RFC 6467,
    /// RFC 7619, RFC 7427).
    AuthMethod(u8) {
        RSA_SIG = 1 => "RSA_SIG",
        SHARED_KEY_MIC = 2 => "SHARED_KEY_MIC",
        DSS_SIG = 3 => "DSS_SIG",
        ECDSA_SHA256_P256 = 9 => "ECDSA_SHA256_P256",
        ECDSA_SHA384_P384 = 10 => "ECDSA_SHA384_P384",
        ECDSA_SHA512_P521 = 11 => "ECDSA_SHA512_P521",
        GSPAM = 12 => "GSPAM",
        NULL_AUTH = 13 => "NULL_AUTH",
        DIGITAL_SIGNATURE = 14 => "DIGITAL_SIGNATURE",
    }
}

open_registry! {
    /// IKEv2 Certificate Encodings (RFC 7296 §3.6, RFC 4806, RFC 7670).
    CertEncoding(u8) {
        PKCS7_WRAPPED_X509 = 1 => "PKCS7_WRAPPED_X509",
        PGP = 2 => "PGP",
        DNS_SIGNED_KEY = 3 => "DNS_SIGNED_KEY",
        X509_CERT_SIG = 4 => "X509_CERT_SIG",
        KERBEROS_TOKEN = 6 => "KERBEROS_TOKEN",
        CRL = 7 => "CRL",
        ARL = 8 => "ARL",
        SPKI = 9 => "SPKI",
        X509_CERT_ATTR = 10 => "X509_CERT_ATTR",
        RAW_RSA_KEY = 11 => "RAW_RSA_KEY",
        HASH_URL_X509_CERT = 12 => "HASH_URL_X509_CERT",
        HASH_URL_X509_BUNDLE = 13 => "HASH_URL_X509_BUNDLE",
        OCSP_CONTENT = 14 => "OCSP_CONTENT",
        RAW_PUBLIC_KEY = 15 => "RAW_PUBLIC_KEY",
    }
}

open_registry! {
    /// IKEv2 Hash Algorithms (RFC 7427 §7, RFC 8420): what a
    /// SIGNATURE_HASH_ALGORITHMS notify lists.
    HashAlgorithm(u16) {
        SHA1 = 1 => "SHA1",
        SHA2_256 = 2 => "SHA2_256",
        SHA2_384 = 3 => "SHA2_384",
        SHA2_512 = 4 => "SHA2_512",
        /// RFC 8420: the signature algorithm hashes internally (Ed25519, Ed448).
        IDENTITY = 5 => "IDENTITY",
    }
}

open_registry! {
    /// IKEv2 Traffic Selector Types (RFC 7296 §3.13.1, RFC 4595, RFC 9478).
    TsType(u8) {
        TS_IPV4_ADDR_RANGE = 7 => "TS_IPV4_ADDR_RANGE",
        TS_IPV6_ADDR_RANGE = 8 => "TS_IPV6_ADDR_RANGE",
        TS_FC_ADDR_RANGE = 9 => "TS_FC_ADDR_RANGE",
        TS_SECLABEL = 10 => "TS_SECLABEL",
    }
}

open_registry! {
    /// IKEv2 Configuration Payload CFG Types (RFC 7296 §3.15).
    ConfigType(u8) {
        CFG_REQUEST = 1 => "CFG_REQUEST",
        CFG_REPLY = 2 => "CFG_REPLY",
        CFG_SET = 3 => "CFG_SET",
        CFG_ACK = 4 => "CFG_ACK",
    }
}

open_registry! {
    /// IKEv2 Configuration Payload Attribute Types (RFC 7296 §3.15.1 and
    /// later additions).
    ConfigAttributeType(u16) {
        INTERNAL_IP4_ADDRESS = 1 => "INTERNAL_IP4_ADDRESS",
        INTERNAL_IP4_NETMASK = 2 => "INTERNAL_IP4_NETMASK",
        INTERNAL_IP4_DNS = 3 => "INTERNAL_IP4_DNS",
        INTERNAL_IP4_NBNS = 4 => "INTERNAL_IP4_NBNS",
        INTERNAL_IP4_DHCP = 6 => "INTERNAL_IP4_DHCP",
        APPLICATION_VERSION = 7 => "APPLICATION_VERSION",
        INTERNAL_IP6_ADDRESS = 8 => "INTERNAL_IP6_ADDRESS",
        INTERNAL_IP6_DNS = 10 => "INTERNAL_IP6_DNS",
        INTERNAL_IP6_DHCP = 12 => "INTERNAL_IP6_DHCP",
        INTERNAL_IP4_SUBNET = 13 => "INTERNAL_IP4_SUBNET",
        SUPPORTED_ATTRIBUTES = 14 => "SUPPORTED_ATTRIBUTES",
        INTERNAL_IP6_SUBNET = 15 => "INTERNAL_IP6_SUBNET",
        MIP6_HOME_PREFIX = 16 => "MIP6_HOME_PREFIX",
        INTERNAL_IP6_LINK = 17 => "INTERNAL_IP6_LINK",
        INTERNAL_IP6_PREFIX = 18 => "INTERNAL_IP6_PREFIX",
        HOME_AGENT_ADDRESS = 19 => "HOME_AGENT_ADDRESS",
        P_CSCF_IP4_ADDRESS = 20 => "P_CSCF_IP4_ADDRESS",
        P_CSCF_IP6_ADDRESS = 21 => "P_CSCF_IP6_ADDRESS",
        FTT_KAT = 22 => "FTT_KAT",
        EXTERNAL_SOURCE_IP4_NAT_INFO = 23 => "EXTERNAL_SOURCE_IP4_NAT_INFO",
        TIMEOUT_PERIOD_FOR_LIVENESS_CHECK = 24 => "TIMEOUT_PERIOD_FOR_LIVENESS_CHECK",
        INTERNAL_DNS_DOMAIN = 25 => "INTERNAL_DNS_DOMAIN",
        INTERNAL_DNSSEC_TA = 26 => "INTERNAL_DNSSEC_TA",
    }
}

open_registry! {
    /// IKEv2 Notify Message Types (RFC 7296 §3.10.1 and later RFCs).
    ///
    /// Values below 16384 report errors, values from 16384 status
    /// (see [`NotifyType::is_error`]).
    NotifyType(u16) {
        // Error types, RFC 7296 §3.10.1.
        UNSUPPORTED_CRITICAL_PAYLOAD = 1 => "UNSUPPORTED_CRITICAL_PAYLOAD",
        INVALID_IKE_SPI = 4 => "INVALID_IKE_SPI",
        INVALID_MAJOR_VERSION = 5 => "INVALID_MAJOR_VERSION",
        INVALID_SYNTAX = 7 => "INVALID_SYNTAX",
        INVALID_MESSAGE_ID = 9 => "INVALID_MESSAGE_ID",
        INVALID_SPI = 11 => "INVALID_SPI",
        NO_PROPOSAL_CHOSEN = 14 => "NO_PROPOSAL_CHOSEN",
        INVALID_KE_PAYLOAD = 17 => "INVALID_KE_PAYLOAD",
        AUTHENTICATION_FAILED = 24 => "AUTHENTICATION_FAILED",
        SINGLE_PAIR_REQUIRED = 34 => "SINGLE_PAIR_REQUIRED",
        NO_ADDITIONAL_SAS = 35 => "NO_ADDITIONAL_SAS",
        INTERNAL_ADDRESS_FAILURE = 36 => "INTERNAL_ADDRESS_FAILURE",
        FAILED_CP_REQUIRED = 37 => "FAILED_CP_REQUIRED",
        TS_UNACCEPTABLE = 38 => "TS_UNACCEPTABLE",
        INVALID_SELECTORS = 39 => "INVALID_SELECTORS",
        /// RFC 4555.
        UNACCEPTABLE_ADDRESSES = 40 => "UNACCEPTABLE_ADDRESSES",
        /// RFC 4555.
        UNEXPECTED_NAT_DETECTED = 41 => "UNEXPECTED_NAT_DETECTED",
        /// RFC 5026.
        USE_ASSIGNED_HOA = 42 => "USE_ASSIGNED_HoA",
        TEMPORARY_FAILURE = 43 => "TEMPORARY_FAILURE",
        CHILD_SA_NOT_FOUND = 44 => "CHILD_SA_NOT_FOUND",
        /// RFC 9370.
        STATE_NOT_FOUND = 47 => "STATE_NOT_FOUND",
        // Status types, RFC 7296 §3.10.1.
        INITIAL_CONTACT = 16384 => "INITIAL_CONTACT",
        SET_WINDOW_SIZE = 16385 => "SET_WINDOW_SIZE",
        ADDITIONAL_TS_POSSIBLE = 16386 => "ADDITIONAL_TS_POSSIBLE",
        IPCOMP_SUPPORTED = 16387 => "IPCOMP_SUPPORTED",
        NAT_DETECTION_SOURCE_IP = 16388 => "NAT_DETECTION_SOURCE_IP",
        NAT_DETECTION_DESTINATION_IP = 16389 => "NAT_DETECTION_DESTINATION_IP",
        COOKIE = 16390 => "COOKIE",
        USE_TRANSPORT_MODE = 16391 => "USE_TRANSPORT_MODE",
        HTTP_CERT_LOOKUP_SUPPORTED = 16392 => "HTTP_CERT_LOOKUP_SUPPORTED",
        REKEY_SA = 16393 => "REKEY_SA",
        ESP_TFC_PADDING_NOT_SUPPORTED = 16394 => "ESP_TFC_PADDING_NOT_SUPPORTED",
        NON_FIRST_FRAGMENTS_ALSO = 16395 => "NON_FIRST_FRAGMENTS_ALSO",
        // RFC 4555 (MOBIKE).
        MOBIKE_SUPPORTED = 16396 => "MOBIKE_SUPPORTED",
        ADDITIONAL_IP4_ADDRESS = 16397 => "ADDITIONAL_IP4_ADDRESS",
        ADDITIONAL_IP6_ADDRESS = 16398 => "ADDITIONAL_IP6_ADDRESS",
        NO_ADDITIONAL_ADDRESSES = 16399 => "NO_ADDITIONAL_ADDRESSES",
        UPDATE_SA_ADDRESSES = 16400 => "UPDATE_SA_ADDRESSES",
        COOKIE2 = 16401 => "COOKIE2",
        NO_NATS_ALLOWED = 16402 => "NO_NATS_ALLOWED",
        /// RFC 4478.
        AUTH_LIFETIME = 16403 => "AUTH_LIFETIME",
        /// RFC 4739.
        MULTIPLE_AUTH_SUPPORTED = 16404 => "MULTIPLE_AUTH_SUPPORTED",
        /// RFC 4739.
        ANOTHER_AUTH_FOLLOWS = 16405 => "ANOTHER_AUTH_FOLLOWS",
        // RFC 5685 (redirect).
        REDIRECT_SUPPORTED = 16406 => "REDIRECT_SUPPORTED",
        REDIRECT = 16407 => "REDIRECT",
        REDIRECTED_FROM = 16408 => "REDIRECTED_FROM",
        // RFC 5723 (session resumption).
        TICKET_LT_OPAQUE = 16409 => "TICKET_LT_OPAQUE",
        TICKET_REQUEST = 16410 => "TICKET_REQUEST",
        TICKET_ACK = 16411 => "TICKET_ACK",
        TICKET_NACK = 16412 => "TICKET_NACK",
        TICKET_OPAQUE = 16413 => "TICKET_OPAQUE",
        /// RFC 5739.
        LINK_ID = 16414 => "LINK_ID",
        /// RFC 5840.
        USE_WESP_MODE = 16415 => "USE_WESP_MODE",
        /// RFC 5857.
        ROHC_SUPPORTED = 16416 => "ROHC_SUPPORTED",
        /// RFC 5998.
        EAP_ONLY_AUTHENTICATION = 16417 => "EAP_ONLY_AUTHENTICATION",
        /// RFC 6023.
        CHILDLESS_IKEV2_SUPPORTED = 16418 => "CHILDLESS_IKEV2_SUPPORTED",
        /// RFC 6290.
        QUICK_CRASH_DETECTION = 16419 => "QUICK_CRASH_DETECTION",
        // RFC 6311.
        IKEV2_MESSAGE_ID_SYNC_SUPPORTED = 16420 => "IKEV2_MESSAGE_ID_SYNC_SUPPORTED",
        IPSEC_REPLAY_COUNTER_SYNC_SUPPORTED = 16421 => "IPSEC_REPLAY_COUNTER_SYNC_SUPPORTED",
        IKEV2_MESSAGE_ID_SYNC = 16422 => "IKEV2_MESSAGE_ID_SYNC",
        IPSEC_REPLAY_COUNTER_SYNC = 16423 => "IPSEC_REPLAY_COUNTER_SYNC",
        /// RFC 6467.
        SECURE_PASSWORD_METHODS = 16424 => "SECURE_PASSWORD_METHODS",
        // RFC 6631.
        PSK_PERSIST = 16425 => "PSK_PERSIST",
        PSK_CONFIRM = 16426 => "PSK_CONFIRM",
        /// RFC 6867.
        ERX_SUPPORTED = 16427 => "ERX_SUPPORTED",
        /// 3GPP TS 24.303.
        IFOM_CAPABILITY = 16428 => "IFOM_CAPABILITY",
        /// G-IKEv2.
        SENDER_REQUEST_ID = 16429 => "SENDER_REQUEST_ID",
        /// RFC 7383.
        IKEV2_FRAGMENTATION_SUPPORTED = 16430 => "IKEV2_FRAGMENTATION_SUPPORTED",
        /// RFC 7427.
        SIGNATURE_HASH_ALGORITHMS = 16431 => "SIGNATURE_HASH_ALGORITHMS",
        // RFC 7791.
        CLONE_IKE_SA_SUPPORTED = 16432 => "CLONE_IKE_SA_SUPPORTED",
        CLONE_IKE_SA = 16433 => "CLONE_IKE_SA",
        /// RFC 8019.
        PUZZLE = 16434 => "PUZZLE",
        // RFC 8784.
        USE_PPK = 16435 => "USE_PPK",
        PPK_IDENTITY = 16436 => "PPK_IDENTITY",
        NO_PPK_AUTH = 16437 => "NO_PPK_AUTH",
        /// RFC 9242.
        INTERMEDIATE_EXCHANGE_SUPPORTED = 16438 => "INTERMEDIATE_EXCHANGE_SUPPORTED",
        // RFC 8983.
        IP4_ALLOWED = 16439 => "IP4_ALLOWED",
        IP6_ALLOWED = 16440 => "IP6_ALLOWED",
        /// RFC 9370.
        ADDITIONAL_KEY_EXCHANGE = 16441 => "ADDITIONAL_KEY_EXCHANGE",
        /// RFC 9347.
        USE_AGGFRAG = 16442 => "USE_AGGFRAG",
    }
}

impl NotifyType {
    /// Error types are 0..16383, status types 16384 and up
    /// (RFC 7296 §3.10.1).
    pub const fn is_error(&self) -> bool {
        self.0 < 16384
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        assert_eq!(NotifyType(16388).name(), Some("NAT_DETECTION_SOURCE_IP"));
        assert_eq!(NotifyType::NAT_DETECTION_SOURCE_IP.to_string(), "NAT_DETECTION_SOURCE_IP");
        assert_eq!(NotifyType(12345).to_string(), "12345");
        assert_eq!(format!("{:?}", NotifyType(12345)), "12345");
        assert_eq!(format!("{:?}", PayloadType::NONCE), "Nonce");
        assert!(NotifyType::INVALID_SYNTAX.is_error());
        assert!(!NotifyType::COOKIE.is_error());
        assert_eq!(ExchangeType::from(43), ExchangeType::IKE_INTERMEDIATE);
        assert_eq!(u8::from(PayloadType::SKF), 53);
        assert_eq!(AuthMethod(14).to_string(), "DIGITAL_SIGNATURE");
        assert_eq!(AuthMethod(1).to_string(), "RSA_SIG");
        assert_eq!(AuthMethod(11).to_string(), "ECDSA_SHA512_P521");
        assert_eq!(HashAlgorithm(5).to_string(), "IDENTITY");
        assert_eq!(HashAlgorithm(7).to_string(), "7");
    }

    #[test]
    fn known_values_are_unique() {
        fn check<T: Copy + Ord + core::fmt::Debug>(all: &[T]) {
            let mut v = all.to_vec();
            v.sort();
            v.dedup();
            assert_eq!(v.len(), all.len(), "duplicate in {all:?}");
        }
        check(NotifyType::KNOWN);
        check(PayloadType::KNOWN);
        check(EncrAlg::KNOWN);
        check(DhGroup::KNOWN);
        check(ConfigAttributeType::KNOWN);
        check(HashAlgorithm::KNOWN);
    }
}
