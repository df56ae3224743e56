package belenios

import (
	"errors"
	"math/big"
)

// NewTrusteeKey makes a Single trustee's key: the private key x, uniform in
// [1, Q), and its public key g^x with a Schnorr proof of knowledge of x.
func NewTrusteeKey(g *Group) (*big.Int, TrusteePublicKey, error) {
	var x *big.Int
	for x == nil || x.Sign() == 0 {
		var err error
		if x, err = g.RandomScalar(); err != nil {
			return nil, TrusteePublicKey{}, err
		}
	}
	pub, err := TrusteeKeyOf(g, x)
	return x, pub, err
}

// TrusteeKeyOf is the public key of the private key x with a fresh proof of
// knowledge.
func TrusteeKeyOf(g *Group, x *big.Int) (TrusteePublicKey, error) {
	if !g.IsScalar(x) || x.Sign() == 0 {
		return TrusteePublicKey{}, errors.New("a trustee's private key must be in [1, Q)")
	}
	X := secretExp(g, g.G, x)
	pok, err := schnorrProve(g, x, pokPrefix(g, X))
	if err != nil {
		return TrusteePublicKey{}, err
	}
	return TrusteePublicKey{PoK: pok, PublicKey: NewInt(X)}, nil
}

// VerifyTrusteeKey checks a trustee's public key: a group element other than 1,
// with a valid proof of knowledge of its private key.
func VerifyTrusteeKey(g *Group, pub TrusteePublicKey) error {
	if pub.PublicKey == nil || !g.IsElement(pub.PublicKey.Big()) || pub.PublicKey.Big().Cmp(one) == 0 {
		return errors.New("the trustee's public key is not an element of the group")
	}
	if pub.PoK.Challenge == nil || pub.PoK.Response == nil {
		return errBadPoK
	}
	if !schnorrVerify(g, pub.PublicKey.Big(), pokPrefix(g, pub.PublicKey.Big()), pub.PoK) {
		return errBadPoK
	}
	return nil
}
