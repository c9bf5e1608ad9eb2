# shellcheck shell=bash
# Apple .mobileconfig profiles for the beds where our client imports one (`ikeway profile
# import`): one VPN payload (`com.apple.vpn.managed`) in a Configuration profile. Source
# lib/netns.sh first.
#
# Functions:
#   ikw_profile ID NAME UUID VPN_UUID TYPE [DISPLAY_NAME]
#       print the profile: PayloadIdentifier ID (its VPN payload ID.vpn), the configuration's
#       name NAME (UserDefinedName), the two PayloadUUIDs, VPNType TYPE (IKEv2, IPSec) and the
#       TYPE dictionary holding the keys stdin gives.
#   ikw_profile_psk ID NAME UUID VPN_UUID [DISPLAY_NAME]
#       an IKEv2 profile naming the strongSwan responder of lib/netns.sh's topology
#       ($IKW_SRV_ADDR, srv.ikeway.test) that authenticates us (cli.ikeway.test) with the bed's
#       PSK ($PSK): RemoteAddress, RemoteIdentifier, LocalIdentifier, AuthenticationMethod
#       SharedSecret and SharedSecret, followed by whatever keys stdin holds (the bed's own: On
#       Demand rules, IncludeAllNetworks, SA parameters ...).
#   ikw_profile_ipsec_group ID NAME UUID VPN_UUID SERVER [DISPLAY_NAME]
#       an IPSec ("Cisco IPSec") profile for lib/ikev1bed.sh's gateway at SERVER: the group
#       name and secret ($IKW_V1_GROUP as a KeyID, $IKW_V1_PSK) and XAUTH as $IKW_V1_USER,
#       followed by the keys stdin holds (how the password is given, On Demand ...).
#   ikw_profile_sa WHICH ENCRYPTION INTEGRITY GROUP
#       print an IKESecurityAssociationParameters (WHICH=IKE) or
#       ChildSecurityAssociationParameters (WHICH=Child) key and dictionary.
#
# Reads: PSK, IKW_SRV_ADDR (ikw_profile_psk); IKW_V1_GROUP, IKW_V1_PSK, IKW_V1_USER
# (ikw_profile_ipsec_group).

ikw_profile() { # ID NAME UUID VPN_UUID TYPE [DISPLAY_NAME]
    local keys
    keys="$(cat)"
    cat <<PROFILE
<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0"><dict>
<key>PayloadType</key><string>Configuration</string>
<key>PayloadVersion</key><integer>1</integer>
<key>PayloadIdentifier</key><string>$1</string>
<key>PayloadUUID</key><string>$3</string>
<key>PayloadDisplayName</key><string>${6:-$2}</string>
<key>PayloadContent</key><array><dict>
  <key>PayloadType</key><string>com.apple.vpn.managed</string>
  <key>PayloadVersion</key><integer>1</integer>
  <key>PayloadIdentifier</key><string>$1.vpn</string>
  <key>PayloadUUID</key><string>$4</string>
  <key>UserDefinedName</key><string>$2</string>
  <key>VPNType</key><string>$5</string>
  <key>$5</key><dict>
$keys
  </dict>
</dict></array>
</dict></plist>
PROFILE
}

ikw_profile_psk() { # ID NAME UUID VPN_UUID [DISPLAY_NAME]
    local extra
    extra="$(cat)"
    ikw_profile "$1" "$2" "$3" "$4" IKEv2 "${5:-$2}" <<KEYS
    <key>RemoteAddress</key><string>$IKW_SRV_ADDR</string>
    <key>RemoteIdentifier</key><string>srv.ikeway.test</string>
    <key>LocalIdentifier</key><string>cli.ikeway.test</string>
    <key>AuthenticationMethod</key><string>SharedSecret</string>
    <key>SharedSecret</key><string>$PSK</string>
$extra
KEYS
}

ikw_profile_ipsec_group() { # ID NAME UUID VPN_UUID SERVER [DISPLAY_NAME]
    local extra
    extra="$(cat)"
    ikw_profile "$1" "$2" "$3" "$4" IPSec "${6:-$2}" <<KEYS
    <key>RemoteAddress</key><string>$5</string>
    <key>AuthenticationMethod</key><string>SharedSecret</string>
    <key>LocalIdentifier</key><string>$IKW_V1_GROUP</string>
    <key>LocalIdentifierType</key><string>KeyID</string>
    <key>SharedSecret</key><data>$(printf '%s' "$IKW_V1_PSK" | base64 -w0)</data>
    <key>XAuthEnabled</key><integer>1</integer>
    <key>XAuthName</key><string>$IKW_V1_USER</string>
$extra
KEYS
}

ikw_profile_sa() { # IKE|Child ENCRYPTION INTEGRITY GROUP
    cat <<SA
    <key>$1SecurityAssociationParameters</key><dict>
      <key>EncryptionAlgorithm</key><string>$2</string>
      <key>IntegrityAlgorithm</key><string>$3</string>
      <key>DiffieHellmanGroup</key><integer>$4</integer>
    </dict>
SA
}
